"""scripts/start.sh on a machine without an NVIDIA GPU installs the CPU-only torch first (PyPI's
Linux wheel carries ~4 GB of CUDA libraries and triton), falls back to PyPI's torch with a message
when PyTorch's index cannot be reached, and leaves a torch installed earlier alone.

Runs the real scripts in a throw-away checkout whose `.venv/bin/python` only logs its arguments
(tests/app/test_start_script.py's stand-in), so nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.app.test_start_script import FAKE_PYTHON, _fake_checkout

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the shell scripts and /proc/driver/nvidia: Linux")
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _run(root: Path, env: dict[str, str], path_prefix: Path | None = None
         ) -> subprocess.CompletedProcess[str]:
    (root / ".venv" / "calls.log").unlink(missing_ok=True)
    path = os.environ["PATH"] if path_prefix is None else f"{path_prefix}:{os.environ['PATH']}"
    user_env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITLAB_TORCH")}
    full_env = {**user_env, "QT_QPA_PLATFORM": "", "PATH": path, **env}
    return subprocess.run(["bash", "scripts/start.sh", "--version"], cwd=root, text=True,
                          capture_output=True, timeout=60, env=full_env)


def _pip_calls(root: Path) -> list[str]:
    log = root / ".venv" / "calls.log"
    return [c for c in log.read_text().splitlines() if c.startswith("-m pip")] if log.exists() \
        else []


def test_cpu_torch_comes_first_then_digitlab(tmp_path: Path) -> None:
    root = _fake_checkout(tmp_path)
    proc = _run(root, {"DIGITLAB_TORCH": "cpu"})
    assert proc.returncode == 0, proc.stderr
    assert _pip_calls(root) == [
        f"-m pip install --timeout 20 --retries 1 --index-url {CPU_INDEX} torch torchvision",
        "-m pip install -e ."]
    assert "CPU-only torch" in proc.stderr and "Could not" not in proc.stderr
    # and the newcomer is told how to reach the command line
    assert ".venv/bin/digitlab-cli" in proc.stderr and "source .venv/bin/activate" in proc.stderr
    assert "app started with: --version" in proc.stdout


def test_an_unreachable_cpu_index_falls_back_to_pypi_with_a_message(tmp_path: Path) -> None:
    root = _fake_checkout(tmp_path)
    python = root / ".venv" / "bin" / "python"  # pip fails for the unreachable index only
    python.write_text(FAKE_PYTHON.replace(
        "exit 0", 'case "$*" in *unreachable.invalid*) echo "ConnectionError" >&2; exit 1;; '
        "esac\nexit 0"))
    proc = _run(root, {"DIGITLAB_TORCH": "cpu",
                       "DIGITLAB_TORCH_CPU_INDEX": "https://unreachable.invalid/whl/cpu"})
    assert proc.returncode == 0, proc.stderr
    assert "Could not install it from https://unreachable.invalid/whl/cpu" in proc.stderr
    assert "PyPI's torch instead" in proc.stderr
    assert _pip_calls(root)[-1] == "-m pip install -e ."  # the install still happened
    assert "ConnectionError" in (root / ".venv" / "digitlab-install.log").read_text()
    assert "app started" in proc.stdout


def test_a_torch_already_installed_is_left_alone(tmp_path: Path) -> None:
    root = _fake_checkout(tmp_path)
    (root / ".venv" / "lib" / "python3.11" / "site-packages" / "torch").mkdir(parents=True)
    proc = _run(root, {"DIGITLAB_TORCH": "cpu"})
    assert proc.returncode == 0, proc.stderr
    assert _pip_calls(root) == ["-m pip install -e ."]


def test_auto_keeps_pypi_torch_where_an_nvidia_gpu_is(tmp_path: Path) -> None:
    root = _fake_checkout(tmp_path)
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "nvidia-smi").write_text("#!/bin/sh\nexit 0\n")
    (tools / "nvidia-smi").chmod(0o755)
    proc = _run(root, {"DIGITLAB_TORCH": "auto"}, path_prefix=tools)
    assert proc.returncode == 0, proc.stderr
    assert _pip_calls(root) == ["-m pip install -e ."]


def test_auto_picks_cpu_torch_without_an_nvidia_gpu(tmp_path: Path) -> None:
    if Path("/proc/driver/nvidia").exists() or shutil.which("nvidia-smi"):
        pytest.skip("this machine has an NVIDIA driver: auto keeps PyPI's torch here")
    root = _fake_checkout(tmp_path)
    proc = _run(root, {"DIGITLAB_TORCH": "auto"})
    assert proc.returncode == 0, proc.stderr
    assert _pip_calls(root)[0].endswith(f"--index-url {CPU_INDEX} torch torchvision")


def test_a_misspelt_choice_stops_with_the_choices(tmp_path: Path) -> None:
    root = _fake_checkout(tmp_path)
    proc = _run(root, {"DIGITLAB_TORCH": "cuda"})
    assert proc.returncode == 1
    assert "DIGITLAB_TORCH is 'cuda'; use auto, cpu" in proc.stderr
    assert "app started" not in proc.stdout


def test_the_install_says_what_pip_is_doing_while_it_runs(tmp_path: Path) -> None:
    root = _fake_checkout(tmp_path)
    python = root / ".venv" / "bin" / "python"  # a pip that takes a while, as the first one does
    python.write_text(FAKE_PYTHON.replace(
        "exit 0", 'if [ "$1 $2" = "-m pip" ]; then echo "Collecting torch>=2.4"; '
        'echo "  Downloading torch-2.14.1-cp311-manylinux_2_28_x86_64.whl (915.6 MB)"; '
        "sleep 3; fi\nexit 0"))
    proc = _run(root, {"DIGITLAB_TORCH": "pypi"})
    assert proc.returncode == 0, proc.stderr
    assert "s: Downloading torch-2.14.1" in proc.stderr  # not silent for minutes
    assert "app started" in proc.stdout
