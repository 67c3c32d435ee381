#!/usr/bin/env bash
# Install DigitLab with its dev tools into .venv (once), then lint and run the whole test suite.
# Usage: scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
.venv/bin/python -m pip install --quiet -e ".[dev]"

# Tests read the real MNIST files; the shared copy sits beside the repository in CI.
if [ -z "${DIGITLAB_DATA:-}" ] && [ -d ../shared/data/mnist ]; then
  export DIGITLAB_DATA="$(cd ../shared/data/mnist && pwd)"
fi
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}

.venv/bin/ruff check .
.venv/bin/lint-imports
.venv/bin/python -m pytest -q "$@"
