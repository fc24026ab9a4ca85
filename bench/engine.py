#!/usr/bin/env python3
"""Engine benchmark: pipe on generated recipes of N `command` stages.

Shapes: a chain (stage i reads stage i-1) and a fan (one root, N-2 parallel stages, one join).
Each stage writes a small file computed from its input with shell builtins. Reports the median
wall time of: first run, fully cached no-op run, `pipe status`, and a re-run after changing one
mid-chain parameter; and the per-stage overhead of a first run beyond spawning the command itself.

Caches are deleted only at the end: on ext4 without a journal (as on this project's machines),
inode allocation slows down for minutes after many deletions, which would bias later measurements.
`--workdir /dev/shm` repeats the measurement on tmpfs, separating file-system cost from pipe's own.

Usage: python3 bench/engine.py [--pipe .build/release/pipe] [--sizes 10,100,1000,10000] [--repeat 5] [--workdir DIR]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

STAGE = 'read x < "$PIPE_IN_up/o"; echo $((x + 1{bump})) > "$PIPE_OUT/o"'
ROOT = 'echo 0 > "$PIPE_OUT/o"'


def chain(n):
    lines = ["pipe: 1", f"name: chain-{n}", "params:", "  bump: 0", "stages:",
             "  s0:", "    kind: command", f"    command: '{ROOT}'"]
    for i in range(1, n):
        bump = " + ${params.bump}" if i == n // 2 else ""
        lines += [f"  s{i}:", "    kind: command", f"    inputs: {{up: s{i - 1}}}",
                  f"    command: '{STAGE.format(bump=bump)}'"]
    return "\n".join(lines) + "\n"


def fan(n):
    lines = ["pipe: 1", f"name: fan-{n}", "params:", "  bump: 0", "stages:",
             "  root:", "    kind: command", f"    command: '{ROOT}'"]
    middle = max(1, n - 2)
    for i in range(middle):
        bump = " + ${params.bump}" if i == middle // 2 else ""
        lines += [f"  m{i}:", "    kind: command", "    inputs: {up: root}",
                  f"    command: '{STAGE.format(bump=bump)}'"]
    lines += ["  join:", "    kind: command", "    inputs: {" + ", ".join(f"m{i}: m{i}" for i in range(middle)) + "}",
              "    command: 'cat \"$PIPE_IN_m0/o\" > \"$PIPE_OUT/o\"'"]
    return "\n".join(lines) + "\n"


def timed(command, cwd, env):
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stderr.decode()}")
    return elapsed


def spawn_floor(workdir, samples=300):
    """Median time to posix_spawn and wait for `/bin/sh -c <stage command>`: the command itself."""
    work = tempfile.mkdtemp(prefix="pipe-floor-", dir=workdir)
    os.makedirs(f"{work}/in"); os.makedirs(f"{work}/out")
    with open(f"{work}/in/o", "w") as f:
        f.write("1\n")
    env = dict(os.environ, PIPE_IN_up=f"{work}/in", PIPE_OUT=f"{work}/out")
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        pid = os.posix_spawn("/bin/sh", ["/bin/sh", "-c", STAGE.format(bump="")], env)
        os.waitpid(pid, 0)
        times.append(time.perf_counter() - start)
    shutil.rmtree(work)
    return statistics.median(times)


def bench(pipe, shape, n, repeat, jobs, workdir, leftovers):
    work = tempfile.mkdtemp(prefix=f"pipe-bench-{shape}-{n}-", dir=workdir)
    leftovers.append(work)
    recipe = os.path.join(work, "recipe.yaml")
    with open(recipe, "w") as f:
        f.write(chain(n) if shape == "chain" else fan(n))
    reps = repeat if n <= 1000 else 1
    first, noop, status, change = [], [], [], []
    for rep in range(reps):
        cache = os.path.join(work, f"cache-{rep}")
        env = dict(os.environ, PIPE_CACHE=cache)
        first.append(timed([pipe, "run", recipe, "-j", str(jobs)], work, env))
        for _ in range(max(1, repeat if n <= 1000 else 2)):
            noop.append(timed([pipe, "run", recipe, "-j", str(jobs)], work, env))
            status.append(timed([pipe, "status", recipe], work, env))
        change.append(timed([pipe, "run", recipe, "-j", str(jobs), "--set", f"params.bump={rep + 1}"], work, env))
    return {k: statistics.median(v) for k, v in
            [("first", first), ("noop", noop), ("status", status), ("change", change)]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipe", default=".build/release/pipe")
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--shapes", default="chain,fan")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("-j", "--jobs", type=int, default=1)
    parser.add_argument("--workdir", default=None, help="where recipes and caches go (default: the system temp dir)")
    args = parser.parse_args()
    pipe = os.path.abspath(args.pipe)
    floor = spawn_floor(args.workdir)
    leftovers = []
    print(f"pipe engine benchmark in {args.workdir or tempfile.gettempdir()}: {os.cpu_count()} cores, -j {args.jobs}; "
          f"median of {args.repeat} (1 first run at N=10000); spawning the stage command alone: {floor * 1000:.2f} ms")
    print(f"{'shape':6} {'N':>6} {'first run':>10} {'no-op':>8} {'status':>8} {'mid change':>11} {'per stage':>10} {'overhead':>9}")
    for shape in args.shapes.split(","):
        for n in map(int, args.sizes.split(",")):
            r = bench(pipe, shape, n, args.repeat, args.jobs, args.workdir, leftovers)
            per_stage = r["first"] / n
            print(f"{shape:6} {n:>6} {r['first']:>9.3f}s {r['noop']:>7.3f}s {r['status']:>7.3f}s "
                  f"{r['change']:>10.3f}s {per_stage * 1000:>8.2f}ms {(per_stage - floor) * 1000:>7.2f}ms", flush=True)
    for work in leftovers:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
