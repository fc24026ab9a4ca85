#!/usr/bin/env python3
"""pipe and Snakemake side by side on the same chain of N shell stages, in one run.

Each stage reads its input file and writes input + 1 (shell builtins), as in bench/engine.py; the
middle stage also adds a parameter, changed for the "mid change" measurement (Snakemake re-runs on
changed params by default). Needs snakemake on PATH or --snakemake; `make bench-snakemake`
installs it from PyPI into a throwaway venv.

Usage: python3 bench/snakemake_side_by_side.py [--pipe .build/release/pipe] [--snakemake PATH] [--sizes 100,1000]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine  # noqa: E402


def snakefile(n):
    lines = ['rule all:', f'    input: "o/s{n - 1}"', '',
             'rule s0:', '    output: "o/s0"', '    shell: "echo 0 > {output}"', '']
    for i in range(1, n):
        bump = ' + {params.bump}' if i == n // 2 else ''
        lines += [f'rule s{i}:', f'    input: "o/s{i - 1}"', f'    output: "o/s{i}"']
        if bump:
            lines += ['    params: bump=config.get("bump", 0)']
        lines += [f'    shell: "read x < {{input}}; echo $((x + 1{bump})) > {{output}}"', '']
    return "\n".join(lines)


ENTRY = ("import sys; sys.setrecursionlimit(100000); sys.argv[0] = 'snakemake'; "
         "from snakemake.cli import main; sys.exit(main())")


def run(command, cwd, env=None):
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stderr.decode()[-2000:]}")
    return time.perf_counter() - start


def measure(first, noop, status, change, repeat):
    results = {"first": [], "noop": [], "status": [], "change": []}
    for rep in range(repeat):
        results["first"].append(first(rep))
        results["noop"].append(noop(rep))
        results["status"].append(status(rep))
        results["change"].append(change(rep))
    return {k: statistics.median(v) for k, v in results.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipe", default=".build/release/pipe")
    parser.add_argument("--snakemake", default=shutil.which("snakemake") or "snakemake")
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pipe = os.path.abspath(args.pipe)
    python = os.path.join(os.path.dirname(os.path.abspath(args.snakemake)), "python3")
    print(f"chain of N shell stages, median of {args.repeat}, one core (-j 1 / -c 1)")
    print(f"{'tool':10} {'N':>5} {'first run':>10} {'no-op':>8} {'status':>8} {'mid change':>11}")
    leftovers = []
    for n in map(int, args.sizes.split(",")):
        work = tempfile.mkdtemp(prefix=f"side-by-side-{n}-")
        leftovers.append(work)
        with open(f"{work}/recipe.yaml", "w") as f:
            f.write(engine.chain(n))
        with open(f"{work}/Snakefile", "w") as f:
            f.write(snakefile(n))

        def pipe_env(rep):
            return dict(os.environ, PIPE_CACHE=f"{work}/cache-{rep}")

        p = measure(lambda r: run([pipe, "run", "recipe.yaml"], work, pipe_env(r)),
                    lambda r: run([pipe, "run", "recipe.yaml"], work, pipe_env(r)),
                    lambda r: run([pipe, "status", "recipe.yaml"], work, pipe_env(r)),
                    lambda r: run([pipe, "run", "recipe.yaml", "--set", f"params.bump={r + 1}"], work, pipe_env(r)),
                    args.repeat)

        def smk(rep, *extra):
            # Through the entry point with a higher recursion limit: Snakemake's DAG construction
            # recurses once per chain link and overflows Python's default limit near 500 stages.
            return [python, "-c", ENTRY, "-c", "1", "--quiet", "all", "-d", f"{work}/smk-{rep}",
                    "-s", f"{work}/Snakefile", *extra]

        s = measure(lambda r: run(smk(r), work),
                    lambda r: run(smk(r), work),
                    lambda r: run(smk(r, "-n"), work),
                    lambda r: run(smk(r, "--config", f"bump={r + 1}"), work),
                    args.repeat)
        for tool, r in (("pipe", p), ("snakemake", s)):
            print(f"{tool:10} {n:>5} {r['first']:>9.3f}s {r['noop']:>7.3f}s {r['status']:>7.3f}s {r['change']:>10.3f}s")
        print(f"{'ratio':10} {n:>5} {s['first'] / p['first']:>9.1f}x {s['noop'] / p['noop']:>7.1f}x "
              f"{s['status'] / p['status']:>7.1f}x {s['change'] / p['change']:>10.1f}x", flush=True)
    for work in leftovers:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
