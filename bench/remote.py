#!/usr/bin/env python3
"""Remote-cache benchmark: `pipe cache push` and `pipe cache pull` of one artifact against each
remote kind, next to the floor for moving the same bytes to the same place.

Artifacts (random bytes, so nothing compresses or deduplicates): one file of SIZE, and SIZE as
many small files (--small-kib each). Remotes: nginx with WebDAV on loopback and SeaweedFS's S3
(`weed mini` from .build/pyenv, as the tests use it), each with curl PUT/GET of the same files as
the floor (8 transfers at a time like pipe, through one curl process with --parallel; SigV4 for
S3), and a shared directory (floor: cp of the same files; for pulls also cp then openssl dgst -sha256, the
least a verified copy does, since every object pipe fetches is hashed). `https` and `s3-https` are
the same servers over TLS (a CA and certificate made by the bench with openssl; curl and pipe are
given the CA). Each figure is the best of --repeat runs (pipe and the floor alternate which goes
first); every pull goes into a fresh local cache, every push into a fresh remote prefix.
`--baseline OTHER_PIPE` measures a second binary (an earlier client) side by side, on the kinds it
speaks.

Usage: python3 bench/remote.py [--pipe .build/release/pipe] [--baseline PIPE] [--size-mib 1024] [--small-kib 256] [--repeat 3]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

NGINX = """{user}worker_processes 2;
daemon off;
error_log {prefix}/error.log;
pid {prefix}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/www/.body;
  proxy_temp_path {prefix}/proxy; fastcgi_temp_path {prefix}/fastcgi; uwsgi_temp_path {prefix}/uwsgi; scgi_temp_path {prefix}/scgi;
  server {{
    listen 127.0.0.1:{port};
    listen 127.0.0.1:{tls_port} ssl;
    ssl_certificate {tls}/server.pem;
    ssl_certificate_key {tls}/server.key;
    root {prefix}/www;
    location /cache/ {{
      dav_methods PUT DELETE MKCOL;
      create_full_put_path on;
      client_max_body_size 8g;
      autoindex on;
      autoindex_format json;
    }}
  }}
}}
"""


def make_certificates(tls):
    """A CA and a server certificate for 127.0.0.1 it signed, as the tests make them."""
    os.makedirs(tls)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    subprocess.run(["openssl", "req", "-x509"] + key + ["-keyout", f"{tls}/ca.key", "-out", f"{tls}/ca.pem", "-days", "2",
                    "-subj", "/CN=bench CA", "-addext", "basicConstraints=critical,CA:TRUE"], **quiet)
    subprocess.run(["openssl", "req"] + key + ["-keyout", f"{tls}/server.key", "-out", f"{tls}/server.csr", "-subj", "/CN=localhost"], **quiet)
    with open(f"{tls}/server.ext", "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    subprocess.run(["openssl", "x509", "-req", "-in", f"{tls}/server.csr", "-CA", f"{tls}/ca.pem", "-CAkey", f"{tls}/ca.key",
                    "-CAcreateserial", "-out", f"{tls}/server.pem", "-days", "2", "-extfile", f"{tls}/server.ext"], **quiet)
    return f"{tls}/ca.pem"



def timed(command, env=None, cwd=None):
    # Dirty pages of earlier steps (the artifact just written) would otherwise be flushed during,
    # and charged to, whichever transfer comes next.
    os.sync()
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[:4])}... failed ({done.returncode}): {done.stderr[-800:]}")
    return elapsed


def start_nginx(prefix, port, tls_port, tls):
    os.makedirs(prefix + "/www/cache", exist_ok=True)
    os.makedirs(prefix + "/www/.body", exist_ok=True)
    user = "user root root;\n" if os.getuid() == 0 else ""
    with open(prefix + "/nginx.conf", "w") as f:
        f.write(NGINX.format(user=user, prefix=prefix, port=port, tls_port=tls_port, tls=tls))
    process = subprocess.Popen(["nginx", "-p", prefix, "-c", prefix + "/nginx.conf"])
    time.sleep(0.5)
    return process


def start_weed(work, weed, tls):
    """`weed mini` on free ports with one bucket and one identity; returns (process, s3 port, s3 https port)."""
    import socket
    ports = []
    holders = []
    for _ in range(12):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        holders.append(s)
        ports.append(s.getsockname()[1])
    for s in holders:
        s.close()
    os.makedirs(work + "/weed/data")
    with open(work + "/weed/s3.json", "w") as f:
        f.write('{"identities": [{"name": "pipe", "credentials": [{"accessKey": "bench", "secretKey": "benchsecret"}], '
                '"actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}')
    names = ["s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
             "filer.port", "filer.port.grpc", "admin.port", "admin.port.grpc", "debug.port"]
    args = [weed, "mini", f"-dir={work}/weed/data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
            f"-s3.config={work}/weed/s3.json", "-bucket=pipe-bench", "-admin.ui=false", "-webdav=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.cert.file={tls}/server.pem", f"-s3.key.file={tls}/server.key",
            f"-s3.port.https={ports[11]}"] + [f"-{n}={p}" for n, p in zip(names, ports)]
    process = subprocess.Popen(args, cwd=work + "/weed", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(400):
        code = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-I", f"http://127.0.0.1:{ports[0]}/pipe-bench"],
                              capture_output=True, text=True).stdout
        if code in ("200", "403"):
            return process, ports[0], ports[11]
        time.sleep(0.05)
    process.terminate()
    sys.exit("weed mini did not start")


def make_artifact(work, pipe, name, files, size):
    """A recipe whose one stage copies `files` prepared files of `size` bytes; run it into a cache."""
    source = f"{work}/{name}-source"
    os.makedirs(source)
    for i in range(files):
        with open(f"{source}/{i:06d}.bin", "wb") as f:
            f.write(os.urandom(size))
    recipe = f"{work}/{name}.yaml"
    with open(recipe, "w") as f:
        f.write(f"pipe: 1\nname: {name}\nstages:\n  blob:\n    kind: command\n    command: cp -r {source}/. \"$PIPE_OUT/\"\n")
    cache = f"{work}/{name}-cache"
    timed([pipe, "run", recipe, "--cache", cache])
    return source, cache


def curl_config(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def measure(args, work, pipes, name, source, cache, remote_kind, ports, prefix, ca):
    """Push and pull times of each (label, binary) in `pipes`, and the floor's; the best of the repeats."""
    files = sorted(os.listdir(source))
    pushes = {label: [] for label, _ in pipes}
    pulls = {label: [] for label, _ in pipes}
    floor_up, floor_down, verified_down = [], [], []
    secure = remote_kind in ("https", "s3-https")
    for r in range(args.repeat):
        env = dict(os.environ)
        curl_auth = ["--cacert", ca] if secure else []
        if secure:
            env["PIPE_REMOTE_CA_FILE"] = ca
        remotes = {}
        if remote_kind in ("http", "https"):
            base = f"{'https' if secure else 'http'}://127.0.0.1:{ports[remote_kind]}/cache/"
            remotes = {label: f"{base}{name}-{label}{r}/" for label, _ in pipes}
            floor_base = f"{base}floor{r}/"
        elif remote_kind in ("s3", "s3-https"):
            endpoint = f"{'https' if secure else 'http'}://127.0.0.1:{ports[remote_kind]}"
            remotes = {label: f"s3://pipe-bench/{name}-{remote_kind}-{label}{r}" for label, _ in pipes}
            floor_base = f"{endpoint}/pipe-bench/floor-{name}-{remote_kind}{r}/"
            env.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="benchsecret", AWS_REGION="us-east-1")
            curl_auth += ["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "bench:benchsecret"]
        else:
            for label, _ in pipes:
                remotes[label] = f"{work}/shared-{name}-{label}{r}"
                os.makedirs(remotes[label])
            floor_base = f"{work}/floor-{name}{r}"
            os.makedirs(floor_base)

        def pipe_steps(label, pipe):
            def steps():
                env["PIPE_REMOTE"] = remotes[label]
                pulled = f"{work}/pulled-{name}-{label}{r}"
                pushes[label].append(timed([pipe, "cache", "push", "--all", "--cache", cache], env=env))
                pulls[label].append(timed([pipe, "cache", "pull", "--all", "--cache", pulled], env=env))
            return steps

        def floor_steps():
            if remote_kind != "directory":
                up = curl_config(f"{work}/up.cfg", [f'upload-file = "{source}/{n}"\nurl = "{floor_base}{n}"' for n in files])
                floor_up.append(timed(["curl", "-sS", "--no-progress-meter", "--fail", "--parallel", "--parallel-max", "8"] + curl_auth + ["-K", up]))
                down_dir = f"{work}/down-{name}{r}"
                os.makedirs(down_dir)
                down = curl_config(f"{work}/down.cfg", [f'url = "{floor_base}{n}"\noutput = "{down_dir}/{n}"' for n in files])
                floor_down.append(timed(["curl", "-sS", "--no-progress-meter", "--fail", "--parallel", "--parallel-max", "8"] + curl_auth + ["-K", down]))
            else:
                floor_up.append(timed(["cp", "-r", source + "/.", floor_base]))
                back = f"{work}/back-{name}{r}"
                floor_down.append(timed(["cp", "-r", floor_base + "/.", back]))
                # A verified copy's floor: the copy, then SHA-256 of what arrived (what pipe must do; openssl uses the SHA instructions, coreutils sha256sum does not).
                verified_down.append(floor_down[-1] + timed(["sh", "-c", f"cd {back} && ls | xargs openssl dgst -sha256 > /dev/null"]))

        # Rotate which goes first, so that none always pays for another's page-cache and inode churn.
        steps = [pipe_steps(label, pipe) for label, pipe in pipes] + [floor_steps]
        shift = r % len(steps)
        for step in steps[shift:] + steps[:shift]:
            step()
    # Cleared after all repeats (disk space), not between the timed steps.
    subprocess.run(["chmod", "-R", "u+w", work])
    for entry in os.listdir(work):
        if entry.split("-")[0] in ("pulled", "down", "back", "shared", "floor"):
            shutil.rmtree(f"{work}/{entry}", ignore_errors=True)
    shutil.rmtree(prefix + "/www/cache", ignore_errors=True)
    os.makedirs(prefix + "/www/cache")
    # Best of the repeats: the file system's background work (writeback, freeing what was deleted)
    # lands on whichever step runs next; the fastest run of each is the least disturbed.
    best = {label: (min(pushes[label]), min(pulls[label])) for label, _ in pipes}
    return best, min(floor_up), min(floor_down), (min(verified_down) if verified_down else None)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipe", default=".build/release/pipe")
    parser.add_argument("--baseline", help="a second pipe binary measured side by side (on http, s3 and directory)")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--small-kib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shapes", default="large,small", help="which artifacts: large, small")
    parser.add_argument("--kinds", default="http,https,s3,s3-https,directory", help="which remotes: http, https, s3, s3-https, directory")
    args = parser.parse_args()
    pipe = os.path.abspath(args.pipe)
    if not shutil.which("nginx") and not os.path.exists("/usr/sbin/nginx"):
        sys.exit("nginx is not installed (apt-get install nginx)")
    os.environ["PATH"] = os.environ["PATH"] + ":/usr/sbin"
    work = tempfile.mkdtemp(prefix="pipe-remote-bench-", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    ca = make_certificates(work + "/tls")
    port = 18000 + os.getpid() % 1000
    ports = {"http": port, "https": port + 1000}
    prefix = work + "/nginx"
    server = start_nginx(prefix, ports["http"], ports["https"], work + "/tls")
    weed = os.path.abspath(".build/pyenv/bin/weed")
    kinds = ["http", "https", "directory"]
    s3 = None
    if os.path.exists(weed):
        s3, ports["s3"], ports["s3-https"] = start_weed(work, weed, work + "/tls")
        kinds[2:2] = ["s3", "s3-https"]
    else:
        print("no .build/pyenv/bin/weed (run `make test` once): S3 skipped")
    clients = [("pipe", pipe)] + ([("baseline", os.path.abspath(args.baseline))] if args.baseline else [])
    try:
        size = args.size_mib << 20
        shapes = [("large", 1, size), ("small", size // (args.small_kib << 10), args.small_kib << 10)]
        print(f"{args.size_mib} MiB per artifact, best of {args.repeat}; floor: curl (http, s3) or cp (directory) of the same files")
        print(f"{'artifact':<16} {'remote':<9} {'client':<9} {'push s':>7} {'floor s':>8} {'ratio':>6} {'pull s':>7} {'floor s':>8} {'ratio':>6} {'push MB/s':>10} {'pull MB/s':>10}")
        kinds = [k for k in kinds if k in args.kinds.split(",")]
        for name, count, each in [shape for shape in shapes if shape[0] in args.shapes.split(",")]:
            source, cache = make_artifact(work, pipe, name, count, each)
            for kind in kinds:
                # The baseline may predate https.
                pipes = [c for c in clients if c[0] == "pipe" or kind in ("http", "s3", "directory")]
                best, up, down, verified = measure(args, work, pipes, name, source, cache, kind, ports, prefix, ca)
                label = f"{count} x {each >> 10} KiB" if count > 1 else f"1 x {each >> 20} MiB"
                for client, (push, pull) in best.items():
                    print(f"{label:<16} {kind:<9} {client:<9} {push:7.2f} {up:8.2f} {push / up:6.2f} {pull:7.2f} {down:8.2f} {pull / down:6.2f} "
                          f"{size / 1e6 / push:10.0f} {size / 1e6 / pull:10.0f}", flush=True)
                if verified is not None:
                    pull = best["pipe"][1]
                    print(f"{'':<16} {'':<9} {'':<9} {'':>7} {'':>8} {'':>6} {'':>7} {verified:8.2f} {pull / verified:6.2f}  (floor: cp, then openssl dgst -sha256)", flush=True)
            shutil.rmtree(source)
            shutil.rmtree(cache, ignore_errors=True)
    finally:
        server.terminate()
        server.wait()
        if s3:
            s3.terminate()
            s3.wait()
        subprocess.run(["chmod", "-R", "u+w", work])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
