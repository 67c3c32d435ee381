#!/usr/bin/env bash
# Install DigitLab with its dev tools into .venv (when needed: scripts/_venv.sh), then lint, check
# the import contracts and run the whole test suite.
# Usage: scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh

ensure_installed dev

# Tests read the real MNIST files; the shared copy sits beside the repository in CI.
if [ -z "${DIGITLAB_DATA:-}" ] && [ -d ../shared/data/mnist ]; then
  export DIGITLAB_DATA="$(cd ../shared/data/mnist && pwd)"
fi
# Real pen writers (UCI pendigits strokes) for the handwriting tests, beside MNIST.
if [ -z "${DIGITLAB_PENDIGITS:-}" ] && [ -d ../shared/data/pendigits-train ]; then
  export DIGITLAB_PENDIGITS="$(cd ../shared/data/pendigits-train && pwd)"
fi
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}

"$VENV/bin/ruff" check .
"$VENV/bin/lint-imports"
"$VENV/bin/python" -m pytest -q "$@"
