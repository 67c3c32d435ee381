"""Shared fixtures. Qt runs offscreen; user data goes to a temporary DIGITLAB_HOME per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def digitlab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty user-data folder: runs never leak between tests."""
    home = tmp_path / "digitlab-home"
    monkeypatch.setenv("DIGITLAB_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    folder = os.environ.get("DIGITLAB_DATA")
    if not folder or not Path(folder).is_dir():
        pytest.skip("DIGITLAB_DATA is not set to the MNIST folder (../shared/data/mnist)")
    return Path(folder)


@pytest.fixture(scope="session")
def mnist(mnist_dir: Path):  # -> MnistArrays
    from core.data import load_arrays

    return load_arrays(mnist_dir)
