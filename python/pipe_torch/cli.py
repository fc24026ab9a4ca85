"""`python -m pipe_torch env [--lock FILE] | check REQUEST.json | run REQUEST.json`.

Exit codes: 0 done; 2 bad input (request, model, dataset, environment), nothing written; 1 a run
that failed. Errors are `error: ...` and `hint: ...` lines on stderr."""

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import traceback

from .errors import PipeTorchError


def _parser():
    parser = argparse.ArgumentParser(prog="python -m pipe_torch", description="pipe's PyTorch backend")
    commands = parser.add_subparsers(dest="command", required=True)
    env = commands.add_parser("env", help="the installed packages against the lock, as JSON")
    env.add_argument("--lock", help="the lock file (default: python/requirements.lock beside the package)")
    env.add_argument("--no-import", action="store_true",
                     help="versions from package metadata only, without importing torch, transformers and trl (fast; what pipe keys on)")
    for name, text in [("check", "validate a request without writing anything"), ("run", "run a request")]:
        commands.add_parser(name, help=text).add_argument("request", help="the request JSON file (-: standard input)")
    return parser


def env_command(lock, imports: bool = True) -> int:
    from . import env
    result = env.report(lock or env.DEFAULT_LOCK, imports=imports)
    print(json.dumps(result, indent=2, sort_keys=True))
    env.require(result)
    return 0


def check_command(path: str, imports: bool = True):
    """The checked request; `imports: False` checks the packages' presence only (fast: `check`)."""
    from . import env, request
    env.require(env.report(imports=imports))
    req = request.read(path)
    request.check_files(req)
    return req


def run_command(path: str) -> int:
    from .runtime import prepare_environment, seed_everything
    prepare_environment()
    req = check_command(path)
    created = not os.path.exists(req.output)
    own_scratch = req.scratch is None
    req.scratch = req.scratch or tempfile.mkdtemp(prefix="pipe-torch-")
    os.makedirs(req.output, exist_ok=True)
    # SIGTERM (pipe stopping the stage) unwinds like an error, so the cleanup below runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        seed_everything(req.seed, req.threads)
        if req.kind == "sft":
            from . import sft
            sft.run(req)
        elif req.kind == "grpo":
            from . import grpo
            grpo.run(req)
        else:
            from . import evaluate
            evaluate.run(req)
    except BaseException:
        # Nothing half-written: the output directory goes back to what it was (absent, or empty).
        shutil.rmtree(req.output, ignore_errors=True)
        if not created:
            os.makedirs(req.output, exist_ok=True)
        raise
    finally:
        if own_scratch:
            shutil.rmtree(req.scratch, ignore_errors=True)
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "env":
            return env_command(args.lock, imports=not args.no_import)
        if args.command == "check":
            from .runtime import prepare_environment
            prepare_environment()
            check_command(args.request, imports=False)
            print("ok", file=sys.stderr)
            return 0
        return run_command(args.request)
    except PipeTorchError as error:
        sys.stderr.write(error.render())
        return error.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        sys.stderr.write(f"error: the {getattr(args, 'command', '')} failed: {type(error).__name__}: {error}\n")
        return 1
