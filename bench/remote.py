#!/usr/bin/env python3
"""Remote-cache benchmark: `pipe cache push` and `pipe cache pull` of one artifact against each
remote kind, next to the floor for moving the same bytes to the same place.

Artifacts (random bytes, so nothing compresses or deduplicates): one file of SIZE, and SIZE as
many small files (--small-kib each). Remotes: nginx with WebDAV on loopback and SeaweedFS's S3
(`weed mini` from .build/pyenv, as the tests use it), each with curl PUT/GET of the same files as
the floor (8 transfers at a time like pipe, through one curl process with --parallel; SigV4 for
S3), and a shared directory (floor: cp of the same files; for pulls also cp then openssl dgst -sha256, the
least a verified copy does, since every object pipe fetches is hashed). Each figure is the best of --repeat
runs (pipe and the floor alternate which goes first); every pull goes into a fresh local cache,
every push into a fresh remote prefix.

Usage: python3 bench/remote.py [--pipe .build/release/pipe] [--size-mib 1024] [--small-kib 256] [--repeat 3]
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


def start_nginx(prefix, port):
    os.makedirs(prefix + "/www/cache", exist_ok=True)
    os.makedirs(prefix + "/www/.body", exist_ok=True)
    user = "user root root;\n" if os.getuid() == 0 else ""
    with open(prefix + "/nginx.conf", "w") as f:
        f.write(NGINX.format(user=user, prefix=prefix, port=port))
    process = subprocess.Popen(["nginx", "-p", prefix, "-c", prefix + "/nginx.conf"])
    time.sleep(0.5)
    return process


def start_weed(work, weed):
    """`weed mini` on free ports with one bucket and one identity; returns (process, s3 port)."""
    import socket
    ports = []
    holders = []
    for _ in range(11):
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
            "-s3.port.iceberg=0", "-s3.port.lance=0"] + [f"-{n}={p}" for n, p in zip(names, ports)]
    process = subprocess.Popen(args, cwd=work + "/weed", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(400):
        code = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-I", f"http://127.0.0.1:{ports[0]}/pipe-bench"],
                              capture_output=True, text=True).stdout
        if code in ("200", "403"):
            return process, ports[0]
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


def measure(args, work, pipe, name, source, cache, remote_kind, port, prefix, s3_port=None):
    files = sorted(os.listdir(source))
    pushes, pulls, floor_up, floor_down, verified_down = [], [], [], [], []
    for r in range(args.repeat):
        env = dict(os.environ)
        curl_auth = []
        if remote_kind == "http":
            remote = f"http://127.0.0.1:{port}/cache/{name}{r}/"
            floor_base = f"http://127.0.0.1:{port}/cache/floor{r}/"
        elif remote_kind == "s3":
            remote = f"s3://pipe-bench/{name}{r}"
            floor_base = f"http://127.0.0.1:{s3_port}/pipe-bench/floor-{name}{r}/"
            env.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{s3_port}", AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="benchsecret",
                       AWS_REGION="us-east-1")
            curl_auth = ["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "bench:benchsecret"]
        else:
            remote = f"{work}/shared-{name}{r}"
            os.makedirs(remote)
            floor_base = f"{work}/floor-{name}{r}"
            os.makedirs(floor_base)
        env["PIPE_REMOTE"] = remote
        pulled = f"{work}/pulled-{name}{r}"

        def pipe_steps():
            pushes.append(timed([pipe, "cache", "push", "--all", "--cache", cache], env=env))
            pulls.append(timed([pipe, "cache", "pull", "--all", "--cache", pulled], env=env))

        def floor_steps():
            if remote_kind in ("http", "s3"):
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

        # Alternate which goes first, so neither always pays for the other's page-cache and inode churn.
        for step in ([pipe_steps, floor_steps] if r % 2 == 0 else [floor_steps, pipe_steps]):
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
    return min(pushes), min(floor_up), min(pulls), min(floor_down), (min(verified_down) if verified_down else None)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipe", default=".build/release/pipe")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--small-kib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shapes", default="large,small", help="which artifacts: large, small")
    parser.add_argument("--kinds", default="http,s3,directory", help="which remotes: http, s3, directory")
    args = parser.parse_args()
    pipe = os.path.abspath(args.pipe)
    if not shutil.which("nginx") and not os.path.exists("/usr/sbin/nginx"):
        sys.exit("nginx is not installed (apt-get install nginx)")
    os.environ["PATH"] = os.environ["PATH"] + ":/usr/sbin"
    work = tempfile.mkdtemp(prefix="pipe-remote-bench-", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    port = 18000 + os.getpid() % 1000
    prefix = work + "/nginx"
    server = start_nginx(prefix, port)
    weed = os.path.abspath(".build/pyenv/bin/weed")
    kinds = ["http", "directory"]
    s3 = None
    s3_port = None
    if os.path.exists(weed):
        s3, s3_port = start_weed(work, weed)
        kinds.insert(1, "s3")
    else:
        print("no .build/pyenv/bin/weed (run `make test` once): S3 skipped")
    try:
        size = args.size_mib << 20
        shapes = [("large", 1, size), ("small", size // (args.small_kib << 10), args.small_kib << 10)]
        print(f"{args.size_mib} MiB per artifact, best of {args.repeat}; floor: curl (http, s3) or cp (directory) of the same files")
        print(f"{'artifact':<28} {'remote':<10} {'push s':>7} {'floor s':>8} {'ratio':>6} {'pull s':>7} {'floor s':>8} {'ratio':>6} {'push MB/s':>10} {'pull MB/s':>10}")
        kinds = [k for k in kinds if k in args.kinds.split(",")]
        for name, count, each in [shape for shape in shapes if shape[0] in args.shapes.split(",")]:
            source, cache = make_artifact(work, pipe, name, count, each)
            for kind in kinds:
                push, up, pull, down, verified = measure(args, work, pipe, name, source, cache, kind, port, prefix, s3_port)
                label = f"{count} x {each >> 10} KiB" if count > 1 else f"1 x {each >> 20} MiB"
                print(f"{label:<28} {kind:<10} {push:7.2f} {up:8.2f} {push / up:6.2f} {pull:7.2f} {down:8.2f} {pull / down:6.2f} "
                      f"{size / 1e6 / push:10.0f} {size / 1e6 / pull:10.0f}", flush=True)
                if verified is not None:
                    print(f"{'':<28} {'':<10} {'':>7} {'':>8} {'':>6} {'':>7} {verified:8.2f} {pull / verified:6.2f}  (floor: cp, then openssl dgst -sha256)", flush=True)
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
