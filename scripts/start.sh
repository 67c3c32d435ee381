#!/usr/bin/env bash
# Start the DigitLab desktop app from a source checkout. Arguments go to the app
# (`./scripts/start.sh --self-test`, `--startup-time`, `--version`).
#
# 1. Installs DigitLab into .venv only when needed: the venv is missing, or pyproject.toml
#    changed since the last install (scripts/_venv.sh). pip's output goes to a log; the step it
#    is on (Collecting, Downloading, Installing) is shown while it runs. Without an NVIDIA GPU,
#    torch comes from PyTorch's CPU-only index (DIGITLAB_TORCH=pypi keeps PyPI's CUDA build).
# 2. On Linux, checks that Qt's X11 plugin finds its system libraries and, if not, prints the
#    command that installs them (app/shared/qt_libs.py) instead of letting Qt abort.
#    DIGITLAB_NO_LIB_CHECK=1 skips that check.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh

ensure_installed base

# The self-test runs offscreen unless told otherwise; --version and --help open no window.
check_libs=1
for arg in "$@"; do
  case "$arg" in
    --version|--help|-h) check_libs=0 ;;
    --self-test) [ -n "${QT_QPA_PLATFORM:-}" ] || check_libs=0 ;;
  esac
done
if [ "$check_libs" = 1 ] && [ -z "${DIGITLAB_NO_LIB_CHECK:-}" ] && [ "$(uname -s)" = Linux ]; then
  "$VENV/bin/python" -m app.shared.qt_libs || exit 1
fi

exec "$VENV/bin/digitlab" "$@"
