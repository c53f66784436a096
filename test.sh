#!/usr/bin/env bash
# One command: set up (first time), type-check frond/ and run the whole test suite. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
# system tools the tests use: ffmpeg-free (PyAV bundles its own), espeak-ng for fresh speech, chromium for the browser test
need=()
command -v espeak-ng >/dev/null || need+=(espeak-ng)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "note: ${need[*]} missing and not root: the tests that need them will skip" >&2
  fi
fi
./setup.sh dev
.venv/bin/python -m mypy  # the type check of frond/ (pyproject.toml [tool.mypy]); it must pass
exec .venv/bin/python -m pytest "$@"
