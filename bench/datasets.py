#!/usr/bin/env python3
"""Dataset benchmark: `synth` and `unpack` on a 10,000-image archive, side by side with `bsdtar -xf`.

Generates the benchmark with a `synth` stage, then times, on one core (`taskset -c 0`), in one run:
  - `bsdtar -xf` of the archive into a tmpfs directory: the floor for reading the archive;
  - the `unpack` stage (read the QA files, inflate and decode every JPEG, write the dataset), as
    pipe reports the stage's own time, and the whole `pipe run` around it (which adds hashing the
    123 MB pixel file into the cache).
Everything lives on tmpfs (`--workdir`, default /dev/shm) so that the disk is not what is measured.
Reports medians, images/s and archive MB/s, and unpack's time over bsdtar's (medians, and the
fastest repeat of each).

Usage: python3 bench/datasets.py [--pipe .build/release/pipe] [--images 10000] [--repeat 3] [--formats zip,tar.gz]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run(command, cwd, single_core=False):
    if single_core:
        command = ["taskset", "-c", "0"] + command
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stdout}{result.stderr}")
    return elapsed, result.stdout


def stage_seconds(output, stage):
    """The stage's own time from `pipe run`'s summary table."""
    match = re.search(rf"^{stage}\s+\S+\s+ran\s+([\d.]+)(ms|s)\b", output, re.M)
    if not match:
        sys.exit(f"no time for stage {stage} in:\n{output}")
    value = float(match.group(1))
    return value / 1000 if match.group(2) == "ms" else value


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipe", default=".build/release/pipe")
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--formats", default="zip,tar.gz")
    parser.add_argument("--workdir", default="/dev/shm")
    args = parser.parse_args()
    pipe = os.path.abspath(args.pipe)
    for tool in ["bsdtar", "taskset"]:
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (make bench installs libarchive-tools and util-linux)")
    root = tempfile.mkdtemp(prefix="pipe-bench-data-", dir=args.workdir)
    cache = os.path.join(root, "cache")
    try:
        print(f"datasets: {args.images} images of 64x64, medians of {args.repeat}; unpack and bsdtar on one core; tmpfs")
        print(f"{'format':<8} {'step':<34} {'seconds':>8} {'images/s':>9} {'MB/s':>7}")
        for fmt in args.formats.split(","):
            directory = os.path.join(root, fmt)
            os.makedirs(directory)
            with open(os.path.join(directory, "synth.yaml"), "w") as f:
                f.write(f"pipe: 1\nname: synth\nseed: 1\nstages:\n  data:\n    kind: synth\n"
                        f"    with: {{images: {args.images}, format: {fmt}}}\n")
            _, out = run([pipe, "run", "synth.yaml", "--cache", cache], directory)
            synth = stage_seconds(out, "data")
            run([pipe, "get", "latest", "data", "--out", "data", "--cache", cache], directory)
            archive = os.path.join(directory, "data", f"SynthMedVQA.{fmt}")
            megabytes = os.path.getsize(archive) / 1e6
            threads = os.cpu_count()
            print(f"{fmt:<8} {f'synth ({threads} threads)':<34} {synth:8.2f} {args.images / synth:9.0f} {megabytes / synth:7.1f}")

            with open(os.path.join(directory, "unpack.yaml"), "w") as f:
                f.write(f"pipe: 1\nname: unpack\nseed: 1\nstages:\n  split:\n    kind: unpack\n"
                        f"    with: {{path: data/SynthMedVQA.{fmt}}}\n")
            tar, stage, whole = [], [], []
            for _ in range(args.repeat):
                target = os.path.join(directory, "x")
                os.makedirs(target)
                tar.append(run(["bsdtar", "-xf", archive, "-C", target], directory, single_core=True)[0])
                shutil.rmtree(target)
                elapsed, out = run([pipe, "run", "unpack.yaml", "--force", "split", "--cache", cache], directory, single_core=True)
                stage.append(stage_seconds(out, "split"))
                whole.append(elapsed)
            rows = [("bsdtar -xf (floor)", statistics.median(tar)),
                    ("unpack stage (decode + resize)", statistics.median(stage)),
                    ("pipe run of the unpack stage", statistics.median(whole))]
            for name, seconds in rows:
                print(f"{fmt:<8} {name:<34} {seconds:8.2f} {args.images / seconds:9.0f} {megabytes / seconds:7.1f}")
            print(f"{fmt:<8} {'unpack / bsdtar':<34} {rows[1][1] / rows[0][1]:7.2f}x  (pipe run: {rows[2][1] / rows[0][1]:.2f}x)")
            # On a shared machine the slowest repeats move with the neighbours; the fastest of each is
            # the least disturbed estimate (timeit's advice).
            print(f"{fmt:<8} {'unpack / bsdtar, best of each':<34} {min(stage) / min(tar):7.2f}x  "
                  f"({min(stage):.2f} s / {min(tar):.2f} s)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
