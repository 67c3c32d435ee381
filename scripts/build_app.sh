#!/usr/bin/env bash
# Build the one-folder DigitLab app with PyInstaller, then prove it works:
#   1. `DigitLab --self-test` on the built executable (offscreen; training steps when
#      DIGITLAB_DATA points at MNIST),
#   2. the time until its window is usable, and the folder's size.
# Usage: scripts/build_app.sh          (uses .venv, installing the build extra if needed)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet -e ".[build]"

if [ -z "${DIGITLAB_DATA:-}" ] && [ -d ../shared/data/mnist ]; then
  export DIGITLAB_DATA="$(cd ../shared/data/mnist && pwd)"
fi

start=$(date +%s)
.venv/bin/pyinstaller --noconfirm --clean --log-level WARN build.spec
build_seconds=$(( $(date +%s) - start ))

app=dist/DigitLab/DigitLab
echo
echo "== self-test of the built app"
selftest=0
QT_QPA_PLATFORM=offscreen "$app" --self-test || selftest=$?

echo
echo "== start-up of the built app (three runs)"
for _ in 1 2 3; do
  QT_QPA_PLATFORM=offscreen "$app" --startup-time 2>/dev/null
done

echo
echo "== summary"
echo "build time: ${build_seconds} s"
echo "folder size: $(du -sh dist/DigitLab | cut -f1) (dist/DigitLab)"
echo "largest parts:"
du -sh dist/DigitLab/_internal/* 2>/dev/null | sort -rh | head -6
if [ "$selftest" -ne 0 ]; then
  echo "self-test of the built app FAILED (exit $selftest)"
  exit "$selftest"
fi
echo "self-test of the built app passed"
