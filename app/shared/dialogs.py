"""File dialogs that start where the user's files are; message boxes showing file text as text.

File dialogs: each purpose (ONNX models, Markdown tables) opens where its last file was chosen,
else where any dialog's last file was, else in the user's home folder: never in the app's hidden
data folder, which a file dialog does not even list. The folders are kept in the app's QSettings
(`app.shared.settings.app_settings`), one key per purpose and one for the last of all.

Text that comes from files (model names from metadata, file names, error messages quoting them) is
untrusted: Qt renders any string that looks like HTML as rich text in labels, tooltips and message
boxes, so `<img src=...>` would load a local picture and `<a href=...>` would show a link.
`show_error` and `plain_tooltip` keep such text literal.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from PySide6 import QtGui
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.shared.settings import app_settings

# Purposes: each remembers its own last folder.
ONNX_FILES = "onnx"  # exporting a run to ONNX and opening an ONNX model share one folder
MARKDOWN = "markdown"  # results tables saved from the Compare tab

ONNX_FILTER = "ONNX models (*.onnx);;All files (*)"
MARKDOWN_FILTER = "Markdown (*.md);;All files (*)"

_KEY = "dialogs/last_folder/{purpose}"
_LAST_OF_ALL = "dialogs/last_folder"  # the folder of the last file any dialog chose


def start_folder(purpose: str, settings: QSettings | None = None) -> Path:
    """Where a `purpose` dialog opens: its last folder if it still exists, else the last folder
    of any dialog, else the home folder."""
    settings = settings if settings is not None else app_settings()
    for key in (_KEY.format(purpose=purpose), _LAST_OF_ALL):
        remembered = str(settings.value(key, "") or "")
        with contextlib.suppress(OSError):  # an unreadable place: try the next
            if remembered and Path(remembered).is_dir():
                return Path(remembered)
    return Path.home()


def remember_folder(purpose: str, chosen: str | Path, settings: QSettings | None = None) -> None:
    """Record the folder of the file just chosen for `purpose` (and as the last of all)."""
    settings = settings if settings is not None else app_settings()
    folder = str(Path(chosen).parent)
    settings.setValue(_KEY.format(purpose=purpose), folder)
    settings.setValue(_LAST_OF_ALL, folder)


def open_file(parent: QWidget | None, title: str, name_filter: str, purpose: str, *,
              settings: QSettings | None = None) -> Path | None:
    """Ask for an existing file; None when cancelled. Remembers the folder for `purpose`."""
    start = start_folder(purpose, settings)
    path, _ = QFileDialog.getOpenFileName(parent, title, str(start), name_filter)
    if not path:
        return None
    remember_folder(purpose, path, settings)
    return Path(path)


def save_file(parent: QWidget | None, title: str, name_filter: str, purpose: str,
              default_name: str, *, settings: QSettings | None = None) -> Path | None:
    """Ask where to save `default_name` (a bare file name); None when cancelled."""
    start = start_folder(purpose, settings) / Path(default_name).name
    path, _ = QFileDialog.getSaveFileName(parent, title, str(start), name_filter)
    if not path:
        return None
    remember_folder(purpose, path, settings)
    return Path(path)


def show_error(parent: QWidget | None, title: str, text: str) -> None:
    """A modal error box whose text is shown literally, whatever file names it quotes."""
    box = QMessageBox(QMessageBox.Icon.Critical, title, text, QMessageBox.StandardButton.Ok,
                      parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.exec()


def plain_tooltip(text: str) -> str:
    """`text` as a tooltip that shows literally: tooltips have no plain-text switch, so the
    text is escaped into the rich text Qt would otherwise guess (line breaks kept)."""
    if not text:
        return ""
    return QtGui.Qt.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpaceNormal)
