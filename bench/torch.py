#!/usr/bin/env python3
"""Torch backend benchmark: what `pipe run` adds to a TRL training, and how fast a model directory
is hashed into a stage's key.

1. Overhead. A small dataset is made once (`recipes/torch/sft.yaml --only split` at --images),
   then the `warmup` stage (a torch `sft`, its epochs set by --epochs) runs --repeat times each way,
   alternating which goes first:
   (a) directly: `python -m pipe_torch run REQUEST.json`, the request pipe wrote for that stage
       (captured from the stage's scratch folder during an untimed first run), with a fresh output
       and scratch folder and the dataset copied out with `pipe get`, and the environment pipe
       gives the child (PYTHONPATH, PYTHONDONTWRITEBYTECODE, PIPE_PROGRESS);
   (b) through pipe: `pipe run recipes/torch/sft.yaml --only warmup --force warmup`, which adds
       reading the recipe, asking the interpreter for its package versions, keying, materializing
       the inputs, writing the request and committing the outputs into the cache.
   Prints both medians and pipe's overhead (b - a) / a. On a loaded machine the training's own time
   varies by more than the overhead, so the runs through pipe also time their child: pipe is given
   (PIPE_PYTHON) a wrapper that logs each interpreter call's wall time, and pipe's own time is its
   wall time minus its child's, measured within the same run.
2. Model-directory hashing. A directory shaped like a checkpoint (config.json with model_type
   qwen2_vl, --model-gib of random bytes in --model-files safetensors files, in /dev/shm) is put
   into the same recipe as `model: {path: DIR}`; `pipe status` with it and with the default
   `model: {config: {}}` are timed alternately, and the difference gives the rate. `sha256sum` of the
   same files and `openssl dgst -sha256` (one thread each, page cache warm) are the floors.

Usage: python3 bench/torch.py [--pipe .build/release/pipe] [--python .build/torchenv/bin/python]
       [--repeat 3] [--images 48] [--epochs 2] [--model-gib 2] [--skip-overhead] [--skip-hash]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPE = os.path.join(ROOT, "recipes/torch/sft.yaml")


def run(command, env=None, capture=False):
    done = subprocess.run(command, env=env, cwd=ROOT, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-1500:]}")
    return done.stdout


def timed(command, env=None):
    start = time.perf_counter()
    run(command, env=env)
    return time.perf_counter() - start


WRAPPER = """#!/bin/sh
# The interpreter pipe runs (PIPE_PYTHON): the real one, its wall time and arguments logged.
start=$(date +%s.%N)
"{python}" "$@"
status=$?
echo "$start $(date +%s.%N) $*" >> "{log}"
[ "$1 $2 $3" = "-m pipe_torch run" ] && cp "$4" "{request}"
exit $status
"""


def make_wrapper(python, work):
    """A PIPE_PYTHON that runs `python`, logs each call's start, end and arguments, and keeps a copy
    of the last request pipe gave `run`; the log separates the child's time from pipe's own."""
    paths = {name: os.path.join(work, name) for name in ("python-wrapper", "calls.log", "request.json")}
    with open(paths["python-wrapper"], "w") as f:
        f.write(WRAPPER.format(python=python, log=paths["calls.log"], request=paths["request.json"]))
    os.chmod(paths["python-wrapper"], 0o755)
    return paths


def calls(log):
    """(seconds, arguments) of each logged call, and clears the log."""
    with open(log) as f:
        lines = [line.split(" ", 2) for line in f.read().splitlines()]
    os.remove(log)
    return [(float(end) - float(start), arguments) for start, end, arguments in lines]


def overhead(args, work):
    cache = os.path.join(work, "cache")
    wrapper = make_wrapper(args.python, work)
    sets = ["--set", f"params.images={args.images}", "--set", f"stages.warmup.with.epochs={args.epochs}"]
    pipe_run = [args.pipe, "run", RECIPE, "--cache", cache, "--only", "warmup"] + sets
    pipe_env = dict(os.environ, PIPE_PYTHON=wrapper["python-wrapper"])
    print(f"dataset and a first, untimed training run ({args.images} images, {args.epochs} epochs)...", flush=True)
    start = time.perf_counter()
    run([args.pipe, "run", RECIPE, "--cache", cache, "--only", "split"] + sets, env=pipe_env)
    print(f"  data + split: {time.perf_counter() - start:.1f} s", flush=True)
    start = time.perf_counter()
    run(pipe_run, env=pipe_env)
    print(f"  first warmup run: {time.perf_counter() - start:.1f} s", flush=True)
    calls(wrapper["calls.log"])
    with open(wrapper["request.json"]) as f:
        request = json.load(f)
    dataset = os.path.join(work, "split")
    run([args.pipe, "get", "latest", "split", "--out", dataset, "--cache", cache])
    request["inputs"] = {"dataset": dataset}
    print("  request: kind", request["kind"], "seed", request["seed"], "threads", request["threads"],
          "options", json.dumps(request["options"], sort_keys=True), flush=True)

    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"), PYTHONDONTWRITEBYTECODE="1")
    direct_times, pipe_times, child_times, env_times = [], [], [], []
    for i in range(args.repeat):
        runs = os.path.join(work, f"direct-{i}")
        os.makedirs(runs)
        request.update(output=os.path.join(runs, "out"), scratch=os.path.join(runs, "scratch"))
        os.makedirs(request["scratch"])
        path = os.path.join(runs, "request.json")
        with open(path, "w") as f:
            json.dump(request, f, sort_keys=True)
        direct = ([args.python, "-m", "pipe_torch", "run", path], dict(env, PIPE_PROGRESS=os.path.join(runs, "progress")))
        through_pipe = (pipe_run + ["--force", "warmup"], pipe_env)
        order = [("direct", direct), ("pipe", through_pipe)]
        if i % 2:
            order.reverse()
        for name, (command, command_env) in order:
            os.sync()
            seconds = timed(command, env=command_env)
            if name == "direct":
                direct_times.append(seconds)
                print(f"  repeat {i + 1}: direct {seconds:7.2f} s", flush=True)
                continue
            pipe_times.append(seconds)
            logged = calls(wrapper["calls.log"])
            child = sum(t for t, arguments in logged if arguments.startswith("-m pipe_torch run"))
            child_times.append(child)
            env_times.append(sum(t for t, arguments in logged if not arguments.startswith("-m pipe_torch run")))
            print(f"  repeat {i + 1}: pipe   {seconds:7.2f} s (its child `pipe_torch run` {child:.2f} s, "
                  f"`pipe_torch env` {env_times[-1]:.2f} s, pipe itself {seconds - child - env_times[-1]:.2f} s)", flush=True)
        shutil.rmtree(runs)
    a, b = statistics.median(direct_times), statistics.median(pipe_times)
    own = [p - c for p, c in zip(pipe_times, child_times)]
    print()
    print(f"direct `python -m pipe_torch run`: median {a:.2f} s ({', '.join(f'{t:.2f}' for t in direct_times)})")
    print(f"`pipe run --only warmup --force warmup`: median {b:.2f} s ({', '.join(f'{t:.2f}' for t in pipe_times)})")
    print(f"pipe's overhead by medians: {b - a:+.2f} s, {100 * (b - a) / a:+.2f}% of the direct run (goal: under 2%)")
    print(f"pipe's wall time beyond its child's, within each run: {', '.join(f'{t:.2f}' for t in own)} s; "
          f"median {statistics.median(own):.2f} s = {100 * statistics.median(own) / a:.2f}% of the direct run's median, "
          f"of which `pipe_torch env` (the package versions for the key) {statistics.median(env_times):.2f} s")


def make_checkpoint(directory, gib, files):
    os.makedirs(directory)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump({"model_type": "qwen2_vl", "architectures": ["Qwen2VLForConditionalGeneration"]}, f)
    size = int(gib * (1 << 30)) // files
    chunk = 64 << 20
    for i in range(files):
        with open(os.path.join(directory, f"model-{i + 1:05}-of-{files:05}.safetensors"), "wb") as f:
            left = size
            while left:
                f.write(os.urandom(min(chunk, left)))
                left -= min(chunk, left)
    return size * files


def hashing(args, work):
    base = "/dev/shm" if shutil.disk_usage("/dev/shm").free > (args.model_gib + 1) * (1 << 30) else work
    checkpoint = tempfile.mkdtemp(prefix="pipe-bench-ckpt-", dir=base)
    try:
        directory = os.path.join(checkpoint, "model")
        print(f"\nmodel directory: {args.model_gib} GiB in {args.model_files} files in {base}...", flush=True)
        size = make_checkpoint(directory, args.model_gib, args.model_files)
        files = sorted(os.path.join(directory, name) for name in os.listdir(directory))
        cache = os.path.join(work, "cache-status")
        status = [args.pipe, "status", RECIPE, "--cache", cache]
        with_path = status + ["--set", "stages.warmup.with.model={path: " + directory + "}"]
        floors = {"sha256sum": ["sha256sum"] + files, "openssl dgst -sha256": ["openssl", "dgst", "-sha256"] + files}
        run(with_path)  # warm: the page cache and the interpreter's package metadata
        config_times, path_times = [], []
        floor_times = {name: [] for name in floors}
        for i in range(args.repeat):
            order = [(config_times, status), (path_times, with_path)] + [(floor_times[name], floors[name]) for name in floors]
            if i % 2:
                order.reverse()
            for times, command in order:
                times.append(timed(command))
        c, p = statistics.median(config_times), statistics.median(path_times)
        print(f"`pipe status` with model: {{config: {{}}}}: median {c:.3f} s ({', '.join(f'{t:.3f}' for t in config_times)})")
        print(f"`pipe status` with model: {{path: DIR}}:   median {p:.3f} s ({', '.join(f'{t:.3f}' for t in path_times)})")
        print(f"hashing {size / 1e9:.2f} GB: {p - c:.3f} s, {size / 1e9 / (p - c):.2f} GB/s (goal: 1 GB/s or more)")
        for name, times in floor_times.items():
            s = statistics.median(times)
            print(f"floor, {name} of the same files (one thread): median {s:.3f} s, {size / 1e9 / s:.2f} GB/s")
    finally:
        shutil.rmtree(checkpoint)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipe", default=".build/release/pipe")
    parser.add_argument("--python", default=".build/torchenv/bin/python")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--model-gib", type=float, default=2)
    parser.add_argument("--model-files", type=int, default=4)
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-hash", action="store_true")
    args = parser.parse_args()
    args.pipe = os.path.abspath(args.pipe)
    args.python = os.path.abspath(args.python)
    for path in (args.pipe, args.python):
        if not os.access(path, os.X_OK):
            sys.exit(f"{path} is missing: build pipe (make build) and the torch environment (bash scripts/torch-env.sh)")
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    work = tempfile.mkdtemp(prefix="pipe-bench-torch-")
    try:
        if not args.skip_overhead:
            overhead(args, work)
        if not args.skip_hash:
            hashing(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
