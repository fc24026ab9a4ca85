#!/usr/bin/env bash
# Creates .build/torchenv, the Python environment of the torch backend (python/pipe_torch): exactly
# the packages of python/requirements.lock and python/requirements-test.lock (pytest), installed with
# --no-deps so that nothing unpinned enters (a dependency asking for a newer torch would otherwise
# pull the 3 GB CUDA build). On CPU machines pip's find-links supplies torch 2.13.0+cpu.
# Idempotent: a stamp holds the locks' digest and the interpreter's version; when it matches, the
# script exits at once. Installs python3 and python3-venv with apt-get when the system lacks them.
set -euo pipefail
venv=.build/torchenv
locks=(python/requirements.lock python/requirements-test.lock)
stamp="$venv/.pipe-lock-digest"
if ! python3 -m venv --help >/dev/null 2>&1; then
  bash scripts/install-deps.sh python3 python3-venv
fi
digest="$( { cat "${locks[@]}"; python3 --version; } | sha256sum | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$digest" ]; then
  exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r python/requirements.lock -r python/requirements-test.lock
"$venv/bin/python" - <<'PY'
import torch, transformers, trl
assert torch.__version__.startswith("2.13.0"), f"torch {torch.__version__} is not the locked 2.13.0"
PY
echo "$digest" > "$stamp"
