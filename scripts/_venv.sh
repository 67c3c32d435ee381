# Sourced by scripts/start.sh and scripts/test.sh (bash): `ensure_installed EXTRA` makes .venv
# and installs DigitLab into it in editable mode, only when needed: the venv is missing, or
# pyproject.toml changed since the last install (its SHA-256 per extra is kept in .venv/).
# EXTRA is "base" (the app) or "dev" (the app plus the test tools; it covers "base" too).
# pip's output goes to .venv/digitlab-install.log and is shown only when the install fails.
# Environment: PYTHON (default python3) makes the venv. DIGITLAB_TORCH chooses torch's wheel on
# the first install: auto (default: CPU-only on Linux without an NVIDIA GPU), cpu, or pypi.

VENV=.venv
PYTHON=${PYTHON:-python3}

_die() { echo "$(basename "$0"): $*" >&2; exit 1; }

_sha256() {
  if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1; fi  # macOS
}

_make_venv() {
  command -v "$PYTHON" >/dev/null \
    || _die "$PYTHON not found. Install Python 3.11 or newer, or set PYTHON=/path/to/python3."
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || _die "DigitLab needs Python 3.11 or newer; $PYTHON is $("$PYTHON" -V 2>&1). Set PYTHON=python3.12 (or similar)."
  if ! "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    # Debian and Ubuntu ship venv's pip bootstrap in a package of its own.
    _die "could not create $VENV with $PYTHON. On Debian/Ubuntu: sudo apt-get install -y python3-venv"
  fi
}

# PyPI's Linux torch wheels are CUDA builds: measured in a venv here, 3.2 GB of NVIDIA libraries
# and 0.9 GB of triton beside torch's own 1.2 GB, none of it used without an NVIDIA GPU. The
# CPU-only wheel from PyTorch's own index is 0.75 GB installed.
TORCH_CPU_INDEX=${DIGITLAB_TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}

_has_nvidia_gpu() {  # the driver is loaded, or its tool is installed
  [ -e /proc/driver/nvidia ] || command -v nvidia-smi >/dev/null 2>&1
}

_wants_cpu_torch() {
  case "${DIGITLAB_TORCH:-auto}" in
    cpu) return 0 ;;
    pypi) return 1 ;;
    # macOS wheels are CPU/MPS builds already; Linux without the NVIDIA driver gets no use of CUDA.
    auto) [ "$(uname -s)" = Linux ] && ! _has_nvidia_gpu ;;
    *) _die "DIGITLAB_TORCH is '$DIGITLAB_TORCH'; use auto, cpu (CPU-only torch) or pypi (PyPI's torch)." ;;
  esac
}

_pip() {  # pip "$@" with its output appended to log $1, saying what it does while it runs
  local log=$1 shown="" line pid start=$SECONDS last_print=-10
  shift
  "$VENV/bin/python" -m pip "$@" >>"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    line=$(grep -E '^ *(Collecting|Downloading|Installing|Building|Successfully)' "$log" \
           | tail -n 1 | sed 's/^ *//' | cut -c1-70) || true
    [ -n "$line" ] || continue
    if [ -t 2 ]; then  # a terminal: one line, rewritten in place
      printf '\r  %4ss  %-72s' "$((SECONDS - start))" "$line" >&2
    elif [ "$line" != "$shown" ] && [ $((SECONDS - last_print)) -ge 5 ]; then
      echo "  $((SECONDS - start)) s: $line" >&2
      shown=$line last_print=$SECONDS
    fi
  done
  [ -t 2 ] && printf '\r%-80s\r' "" >&2
  wait "$pid"
}

_has_torch() { compgen -G "$VENV/lib/python3*/site-packages/torch" >/dev/null; }

_install_cpu_torch() {  # before DigitLab, so its `torch` requirement is already met; log: $1
  _wants_cpu_torch || return 0
  _has_torch && return 0  # a torch installed earlier stays: changing it is the user's choice
  echo "No NVIDIA GPU here: installing the CPU-only torch from $TORCH_CPU_INDEX" \
       "(about 0.8 GB instead of 5 GB with the CUDA libraries; DIGITLAB_TORCH=pypi skips this)..." >&2
  if ! _pip "$1" install --timeout 20 --retries 1 --index-url "$TORCH_CPU_INDEX" \
       torch torchvision; then
    echo "Could not install it from $TORCH_CPU_INDEX (offline or blocked? details in $1);" \
         "installing PyPI's torch instead, CUDA libraries included." >&2
  elif ! "$VENV/bin/python" -c 'import torchvision' >>"$1" 2>&1; then
    # A mirror or a local wheel folder can answer for the index with a torch and torchvision
    # that do not belong together ("operator torchvision::nms does not exist"): take PyPI's pair.
    echo "The CPU-only torch and torchvision from $TORCH_CPU_INDEX do not work together" \
         "(details in $1); installing PyPI's pair instead, CUDA libraries included." >&2
    "$VENV/bin/python" -m pip uninstall -y torch torchvision >>"$1" 2>&1
  fi
}

_stamp() { echo "$VENV/digitlab-pyproject-$1.sha256"; }

_up_to_date() {  # the install for extra $1 matches today's pyproject.toml
  [ -x "$VENV/bin/python" ] && [ -x "$VENV/bin/digitlab" ] && [ -f "$(_stamp "$1")" ] \
    && [ "$(cat "$(_stamp "$1")")" = "$(_sha256 pyproject.toml)" ]
}

ensure_installed() {
  local extra=$1 target=. log=$VENV/digitlab-install.log
  [ "$extra" = dev ] && target=".[dev]"
  _up_to_date "$extra" && return 0
  [ "$extra" = base ] && _up_to_date dev && return 0
  [ -x "$VENV/bin/python" ] || _make_venv
  echo "Installing DigitLab ($target) into $VENV: first start, or pyproject.toml changed." \
       "The first time this downloads torch and Qt and takes a few minutes..." >&2
  : >"$log"
  _install_cpu_torch "$log"
  if ! _pip "$log" install -e "$target"; then
    tail -n 30 "$log" >&2
    _die "installing failed (whole log: $log)."
  fi
  _sha256 pyproject.toml >"$(_stamp "$extra")"
  [ "$extra" = dev ] && cp "$(_stamp dev)" "$(_stamp base)"
  echo "Installed. The command line is $VENV/bin/digitlab-cli; to type just digitlab-cli," \
       "run 'source $VENV/bin/activate' once in your shell (README: The command line)." >&2
  return 0
}
