"""Where DigitLab keeps user data. Environment variables override the platform defaults.

- DIGITLAB_HOME: root of all user data (runs, exports, my-digits, downloaded datasets).
- DIGITLAB_DATA: a folder holding MNIST-format IDX files (tests and CI point it at shared data).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "DigitLab"


def home_dir() -> Path:
    """Root of user data: $DIGITLAB_HOME, else the platform's user data dir."""
    env = os.environ.get("DIGITLAB_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def runs_dir() -> Path:
    return home_dir() / "runs"


def exports_dir() -> Path:
    return home_dir() / "exports"


def my_digits_dir() -> Path:
    return home_dir() / "my_digits"


def cache_dir() -> Path:
    """Copies DigitLab can rebuild at any time (uncompressed MNIST, compiled models)."""
    return home_dir() / "cache"


def default_data_dir() -> Path:
    """MNIST folder: $DIGITLAB_DATA, else <home>/data/mnist (where fetching puts it)."""
    env = os.environ.get("DIGITLAB_DATA")
    if env:
        return Path(env).expanduser()
    return home_dir() / "data" / "mnist"


def resources_dir() -> Path:
    """The files DigitLab ships (bundled model, sample strokes, icon).

    In a source checkout they are resources/ at the top; a wheel installs them as core/resources
    (pyproject maps the package `core.resources` to resources/), and the PyInstaller build
    copies them to core/resources under its root (build.spec).
    """
    import sys

    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "core" / "resources"
    package = Path(__file__).resolve().parent
    installed = package / "resources"
    return installed if installed.is_dir() else package.parent / "resources"


def bundled_model_path() -> Path:
    return resources_dir() / "models" / "default.onnx"
