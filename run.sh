#!/usr/bin/env bash
# One command: set up (first time) and run the FROND app on http://127.0.0.1:7860 (extra args go to app.py, e.g. --share)
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
exec .venv/bin/python app.py "$@"
