#!/usr/bin/env bash
# Create .venv (Python 3.11) and install FROND's requirements. Usage: ./setup.sh [dev]
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
REQ=requirements.txt
[ "${1:-}" = "dev" ] && REQ=requirements-dev.txt
STAMP=".venv/.installed-$(sha1sum requirements.txt requirements-dev.txt pyproject.toml | sha1sum | cut -c1-12)-${1:-app}"
if [ ! -f "$STAMP" ]; then
  .venv/bin/python -m pip install -q --upgrade pip setuptools
  .venv/bin/python -m pip install -q -r "$REQ"
  # the package itself, editable: the `frond` command and `python -m frond` work from any folder
  .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
  touch "$STAMP"
fi
# one-time caches (bytecode, matplotlib's fonts, librosa's numba kernels, a first generation): here, not on a user's first run
WARMED="${STAMP/installed/warmed}"
if [ ! -f "$WARMED" ]; then
  if .venv/bin/python -m frond.warm; then touch "$WARMED"; else echo "note: some caches could not be warmed; they fill on first use" >&2; fi
fi
