"""`env`: the packages installed in this interpreter against the lock file.

Reads versions with `importlib.metadata` only (nothing heavy is imported until the end, when torch,
transformers and trl are imported to prove they load)."""

import importlib
import importlib.metadata as metadata
import os
import re
import sys

from .errors import PipeTorchError

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_LOCK = os.path.join(os.path.dirname(HERE), "requirements.lock")
REQUIRED = ("torch", "transformers", "trl")
INSTALL = "bash scripts/torch-env.sh (from the repository), or: pip install --no-deps -r python/requirements.lock"
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


def canonical(name: str) -> str:
    """PEP 503's normalized name: `Typing_Extensions` -> `typing-extensions`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: str) -> dict:
    """{canonical name: version} of every `name==version` line of the lock."""
    try:
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except OSError as error:
        raise PipeTorchError(f"cannot read the lock file {path!r}: {error.strerror}",
                             "give --lock FILE, or run from a checkout that has python/requirements.lock")
    pins = {}
    for line in lines:
        match = _PIN.match(line)
        if match:
            pins[canonical(match.group(1))] = match.group(2)
    return pins


def installed_version(name: str):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _same(installed: str, locked: str) -> bool:
    # A local version label (torch's `+cpu`) is the same release as the lock's pin without it.
    return installed == locked or installed.split("+")[0] == locked.split("+")[0] and "+" not in locked


def report(lock_path: str = DEFAULT_LOCK, imports: bool = True) -> dict:
    """{python, executable, lock, packages, mismatches, missing, broken}: each locked package as
    installed; with `imports`, torch, transformers and trl are imported to prove they load."""
    pins = read_lock(lock_path)
    packages, mismatches, missing = {}, [], []
    for name in sorted(pins):
        version = installed_version(name)
        if version is None:
            missing.append(name)
            continue
        packages[name] = version
        if not _same(version, pins[name]):
            mismatches.append({"name": name, "installed": version, "locked": pins[name]})
    broken = []
    for name in REQUIRED:
        if name in missing or installed_version(name) is None:
            if name not in missing:
                missing.append(name)
            continue
        if not imports:
            continue
        try:
            importlib.import_module(name)
        except Exception as error:  # a broken install: report it, never crash
            broken.append({"name": name, "error": f"{type(error).__name__}: {error}"})
    return {"python": sys.version.split()[0], "executable": sys.executable, "lock": os.path.abspath(lock_path),
            "packages": packages, "mismatches": mismatches, "missing": sorted(missing), "broken": broken}


def require(result: dict) -> None:
    """Raises an input error naming what is missing or broken among torch, transformers and trl."""
    missing = [n for n in REQUIRED if n in result["missing"]]
    broken = [b for b in result["broken"] if b["name"] in REQUIRED]
    if missing or broken:
        parts = [f"{n} is not installed" for n in missing] + [f"{b['name']} does not import ({b['error']})" for b in broken]
        raise PipeTorchError(f"the Python environment {result['executable']} cannot run the torch backend: " + "; ".join(parts),
                             f"install the locked versions: {INSTALL}")
