"""Shared fixtures. Qt runs offscreen; user data goes to a temporary DIGITLAB_HOME per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Helper modules hold asserts and fixtures too: let pytest rewrite their asserts.
pytest.register_assert_rewrite("tests.support.compare_helpers", "tests.support.qt_helpers",
                                "tests.support.mnist_helpers")

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
