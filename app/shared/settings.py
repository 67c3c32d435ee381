"""DigitLab's one settings store (QSettings) and the folders its file dialogs remember."""

from __future__ import annotations

from PySide6.QtCore import QSettings


def app_settings() -> QSettings:
    """The settings every window and tab reads and writes (organisation and name "DigitLab")."""
    return QSettings("DigitLab", "DigitLab")
