"""The README's way in: `./scripts/start.sh` on a real X server shows the window, and
`./scripts/start.sh --self-test` passes.

Needs Xvfb, xdotool and Qt's X11 libraries, which `.ci/run` installs with apt-get; where they
are missing the test skips and says so. The start script must find the venv up to date (as it is
after scripts/test.sh), or it installs first.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="X11 and the shell scripts: tested on Linux")
TOOLS = {"Xvfb": "xvfb", "xdotool": "xdotool", "xwininfo": "x11-utils"}
WINDOW_TIMEOUT_S = 120  # generous: a loaded 2-core CI machine, and a first start may install


@pytest.fixture(scope="module")
def x_display() -> Iterator[str]:
    """A fresh Xvfb on a free display number (it picks one and tells us through -displayfd)."""
    missing = [f"{tool} ({package})" for tool, package in TOOLS.items() if not shutil.which(tool)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}: .ci/run installs them with apt-get where it "
                    "can (no apt-get, or not root, here?)")
    server = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1280x1024x24",
                               "-nolisten", "tcp"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        number = server.stdout.readline().strip() if server.stdout else ""
        if not number.isdigit():
            pytest.fail(f"Xvfb did not start (exit {server.poll()})")
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def _app_env(display: str, home: Path) -> dict[str, str]:
    env = {**os.environ, "DISPLAY": display, "DIGITLAB_HOME": str(home)}
    env.pop("QT_QPA_PLATFORM", None)  # the tests default to offscreen; a user's shell does not
    env.pop("WAYLAND_DISPLAY", None)
    return env


def _visible_windows(display: str, name: str) -> list[str]:
    out = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", name],
                         env={**os.environ, "DISPLAY": display}, capture_output=True, text=True)
    return out.stdout.split()


@pytest.mark.slow
def test_start_script_shows_the_window_on_a_real_x_server(x_display: str,
                                                          digitlab_home: Path) -> None:
    assert not _visible_windows(x_display, "^DigitLab")  # nothing there before we start
    t0 = time.perf_counter()
    app = subprocess.Popen(["./scripts/start.sh"], cwd=REPO, env=_app_env(x_display, digitlab_home),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        windows: list[str] = []
        while not windows and app.poll() is None and time.perf_counter() - t0 < WINDOW_TIMEOUT_S:
            time.sleep(0.05)
            windows = _visible_windows(x_display, "^DigitLab")
        seconds = time.perf_counter() - t0
        if not windows:
            app.kill()
            output = app.communicate(timeout=30)[0]
            pytest.fail(f"no DigitLab window after {seconds:.1f} s (start.sh exit "
                        f"{app.returncode}):\n{output}")
        print(f"\n./scripts/start.sh -> visible window after {seconds:.2f} s")
        info = subprocess.run(["xwininfo", "-id", windows[0]], env={"DISPLAY": x_display},
                              capture_output=True, text=True, check=True).stdout
        assert "Map State: IsViewable" in info
        width = int(info.split("Width:")[1].split()[0])
        height = int(info.split("Height:")[1].split()[0])
        assert width >= 600 and height >= 400, info  # a real main window, not a stray popup
        time.sleep(1.0)
        assert app.poll() is None, "the app quit right after showing its window"
    finally:
        if app.poll() is None:
            app.send_signal(signal.SIGTERM)
            app.communicate(timeout=30)


@pytest.mark.slow
def test_start_script_passes_the_self_test_on_a_real_x_server(x_display: str,
                                                              digitlab_home: Path) -> None:
    # QT_QPA_PLATFORM=xcb: the self-test's window and replayed strokes go through the X server.
    env = {**_app_env(x_display, digitlab_home), "QT_QPA_PLATFORM": "xcb"}
    proc = subprocess.run(["./scripts/start.sh", "--self-test"], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[PASS]" in proc.stdout and "[FAIL]" not in proc.stdout


def test_readme_lists_every_package_the_xcb_plugin_needs() -> None:
    """The README's apt and dnf lines name the package of every library the plugin links
    (as ldd lists them on this machine) that app/shared/qt_libs.py has a package for."""
    from app.shared import qt_libs

    plugin = qt_libs.xcb_plugin()
    if plugin is None or not shutil.which("ldd"):
        pytest.skip("no PySide6 xcb plugin or no ldd here")
    out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True).stdout
    linked = [line.split()[0] for line in out.splitlines() if "=>" in line]
    known = [s for s in [*linked, *qt_libs.RUNTIME_LOADED] if s in qt_libs.PACKAGES]
    assert len(known) >= 10  # the plugin links the xcb family; a parsing slip would hide it
    readme = " ".join((REPO / "README.md").read_text().split())
    apt = readme.split("sudo apt-get install -y ")[1].split("`")[0].split()
    dnf = readme.split("sudo dnf install -y ")[1].split("`")[0].split()
    for soname in known:
        debian, fedora = qt_libs.PACKAGES[soname]
        assert debian in apt, (soname, debian)
        assert fedora in dnf, (soname, fedora)


FAKE_PYTHON = """#!/usr/bin/env bash
# Stands in for .venv/bin/python: logs its arguments; `-m pip` prints a banner like setuptools'.
echo "$*" >> "$(dirname "$0")/../calls.log"
if [ "$1 $2" = "-m pip" ]; then echo "BuildBackendWarning: Editable installation."; fi
exit 0
"""


def _fake_checkout(root: Path) -> Path:
    """scripts/start.sh and scripts/_venv.sh beside a pyproject.toml, with a stand-in venv."""
    (root / "scripts").mkdir(parents=True)
    for name in ("start.sh", "_venv.sh"):
        shutil.copy2(REPO / "scripts" / name, root / "scripts" / name)
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text(FAKE_PYTHON)
    (bin_dir / "digitlab").write_text('#!/usr/bin/env bash\necho "app started with: $*"\n')
    for exe in bin_dir.iterdir():
        exe.chmod(0o755)
    return root


def _start(root: Path, *args: str, torch: str = "pypi") -> tuple[str, list[str]]:
    """Run the copied start.sh; `torch` is DIGITLAB_TORCH (pypi: no CPU-only torch step, which
    tests/app/test_start_cpu_torch.py covers)."""
    log = root / ".venv" / "calls.log"
    log.unlink(missing_ok=True)
    proc = subprocess.run(["bash", "scripts/start.sh", *args], cwd=root, text=True,
                          capture_output=True, timeout=60,
                          env={**os.environ, "QT_QPA_PLATFORM": "", "DIGITLAB_TORCH": torch})
    assert proc.returncode == 0, proc.stderr
    calls = log.read_text().splitlines() if log.exists() else []
    return proc.stdout + proc.stderr, calls


def test_start_script_installs_only_when_pyproject_changed(tmp_path: Path) -> None:
    root = _fake_checkout(tmp_path)
    out, calls = _start(root, "--startup-time")
    assert calls[0] == "-m pip install -e ." and "app started with: --startup-time" in out
    assert "BuildBackendWarning" not in out  # pip's output went to the log
    assert "BuildBackendWarning" in (root / ".venv" / "digitlab-install.log").read_text()
    out, calls = _start(root)
    assert not [c for c in calls if "pip" in c], calls  # warm start: straight to the app
    assert calls == ["-m app.shared.qt_libs"] and "Installing" not in out
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '2'\n")
    _, calls = _start(root, "--version")
    assert calls == ["-m pip install -e ."]  # changed: installs again; --version needs no X11


def test_start_script_stops_with_the_install_command_when_libraries_are_missing(
        tmp_path: Path) -> None:
    root = _fake_checkout(tmp_path)
    _start(root)  # install once
    python = root / ".venv" / "bin" / "python"
    python.write_text(FAKE_PYTHON.replace(
        "exit 0", 'if [ "$2" = app.shared.qt_libs ]; then echo "apt-get install -y libxcb-icccm4"'
        ' >&2; exit 1; fi\nexit 0'))
    proc = subprocess.run(["bash", "scripts/start.sh"], cwd=root, text=True, capture_output=True,
                          timeout=60, env={**os.environ, "QT_QPA_PLATFORM": ""})
    assert proc.returncode == 1 and "apt-get install -y libxcb-icccm4" in proc.stderr
    assert "app started" not in proc.stdout  # it never launched into a Qt abort
