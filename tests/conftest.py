"""Shared fixtures. Qt runs offscreen; user data goes to a temporary DIGITLAB_HOME per test."""

from __future__ import annotations

import getpass
import os
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# torch.compile caches under DIGITLAB_HOME (core.training.speed), a new folder in every test here:
# tests keep torch's own default folder instead, so compiled graphs carry across tests and runs.
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR",
                      str(Path(tempfile.gettempdir()) / f"torchinductor_{getpass.getuser()}"))
# Helper modules hold asserts and fixtures too: let pytest rewrite their asserts.
pytest.register_assert_rewrite("tests.support.compare_helpers", "tests.support.mnist_helpers")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def digitlab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty user-data folder: runs never leak between tests."""
    home = tmp_path / "digitlab-home"
    monkeypatch.setenv("DIGITLAB_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def isolated_qsettings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """QSettings go to a per-test folder, never to the developer's real DigitLab settings."""
    folder = tmp_path / "qsettings"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))  # for subprocesses started by tests
    try:
        from PySide6.QtCore import QSettings
    except ImportError:  # core-only environment
        return folder
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(folder))
    return folder


@pytest.fixture(autouse=True)
def no_leftover_threads(monkeypatch: pytest.MonkeyPatch):
    """Fail a test that leaves a QThread running (napari's dangling-thread check).

    Checked at the end of every test: the background jobs of `app.shared.jobs` (their registry)
    and any other QThread started during the test. A test ends its jobs itself (a tab's
    `shutdown()` joins them). Leftovers are then waited for, so they cannot crash the next test.
    """
    try:
        from PySide6.QtCore import QThread
    except ImportError:  # core-only environment
        yield
        return
    started: list[QThread] = []
    original = QThread.start

    def recording_start(self: QThread, *args: object) -> None:
        started.append(self)
        original(self, *args)

    monkeypatch.setattr(QThread, "start", recording_start)
    yield
    jobs = sys.modules.get("app.shared.jobs")
    threads = {*started, *(jobs.live_job_threads() if jobs else ())}
    running = sorted(type(t).__name__ for t in threads if t.isRunning())
    for thread in threads:
        thread.wait(60_000)
    if running:
        pytest.fail(f"the test left {len(running)} QThread(s) running: {', '.join(running)}")


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    folder = os.environ.get("DIGITLAB_DATA")
    if not folder or not Path(folder).is_dir():
        pytest.skip("DIGITLAB_DATA is not set to the MNIST folder (../shared/data/mnist)")
    return Path(folder)


@pytest.fixture(scope="session")
def mnist(mnist_dir: Path):  # -> MnistArrays
    from core.data.mnist import load_arrays

    return load_arrays(mnist_dir)


@pytest.fixture(scope="session")
def pen_digits():  # -> core.data.pendigits.PenDigits, all 30 writers
    if not os.environ.get("DIGITLAB_PENDIGITS"):
        pytest.skip("DIGITLAB_PENDIGITS is not set to the pen digits folder "
                    "(../shared/data/pendigits-train)")
    from core.data.pendigits import load_pendigits

    return load_pendigits()
