"""My digits in the app: the saved drawings as thumbnails, one tab per label, and opening their
folder in the system's file manager (which may not exist: a bare window manager, a container).

The PNGs are read in a job (`MyDigits.load` checks every file: links, size, format), never on the
GUI thread; files it leaves out are listed under the thumbnails, with why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.shared.jobs import JobRunner
from app.shared.wording import plural
from core.data.my_digits import MyDigits

THUMB_PX = 56  # each 28x28 drawing shown at twice its size, pixels kept sharp


def open_folder(parent: QWidget | None, folder: Path) -> bool:
    """Open `folder` in the file manager; where none answers, say so and where the folder is."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        _say(parent, f"Cannot make the My digits folder {folder}: {error.strerror}.")
        return False
    if QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
        return True
    _say(parent, f"No file manager opened the folder. Your drawings are in\n{folder}\n(one "
                 f"folder per digit).\n\nTo look at them here: ⋯ → Browse My digits…")
    return False


def _say(parent: QWidget | None, text: str) -> None:
    box = QMessageBox(QMessageBox.Icon.Information, "My digits folder", text,
                      QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)  # the path is the user's, shown as it is
    box.exec()


def thumbnail(image: np.ndarray) -> QPixmap:
    """A (28, 28) float image in [0, 1], white ink on black, as a THUMB_PX pixmap."""
    grey = np.ascontiguousarray(np.clip(image * 255.0, 0, 255).astype(np.uint8))
    qimage = QImage(grey.data, grey.shape[1], grey.shape[0], grey.strides[0],
                    QImage.Format.Format_Grayscale8).copy()  # own the pixels: `grey` goes
    return QPixmap.fromImage(qimage).scaled(THUMB_PX, THUMB_PX,
                                            Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.FastTransformation)


def read_drawings(store: MyDigits, *, state: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The job: every saved drawing, checked as scoring reads them (`MyDigits.load`)."""
    return store.load()


class MyDigitsBrowser(QDialog):
    """The saved drawings, per label; Open folder and Close."""

    def __init__(self, store: MyDigits, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("My digits")
        self.store = store
        self.jobs = JobRunner(self)
        self.summary = QLabel("Reading your drawings…", textFormat=Qt.TextFormat.PlainText)
        self.tabs = QTabWidget()
        self.skipped = QLabel(textFormat=Qt.TextFormat.PlainText, wordWrap=True)
        self.skipped.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.folder_button = QPushButton("Open folder")
        self.folder_button.setToolTip(str(store.root))
        self.folder_button.clicked.connect(lambda: open_folder(self, self.store.root))
        buttons.addButton(self.folder_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.skipped)
        layout.addWidget(buttons)
        self.resize(560, 420)
        self.jobs.start(read_drawings, store, on_done=self._loaded, on_error=self._failed)

    def _loaded(self, loaded: tuple[np.ndarray, np.ndarray, list[str]]) -> None:
        images, labels, skipped = loaded
        self.tabs.clear()
        for label in range(10):
            mine = images[labels == label] if len(labels) else images[:0]
            view = QListWidget()
            view.setViewMode(QListView.ViewMode.IconMode)
            view.setIconSize(QSize(THUMB_PX, THUMB_PX))
            view.setResizeMode(QListView.ResizeMode.Adjust)
            view.setMovement(QListView.Movement.Static)
            view.setSpacing(4)
            for number, image in enumerate(mine, start=1):
                item = QListWidgetItem(QIcon(thumbnail(image)), "")
                item.setToolTip(f"{label}, drawing {number} of {len(mine)}")
                view.addItem(item)
            self.tabs.addTab(view, f"{label} ({len(mine)})")
        self.tabs.setCurrentIndex(int(labels.min()) if len(labels) else 0)  # a label with some
        self.summary.setText(f"{plural(len(labels), 'saved drawing')} in {self.store.root}"
                             if len(labels) else
                             "No drawings saved yet: draw a digit, pick its label, Save.")
        if skipped:
            self.skipped.setText(f"Left out ({len(skipped)}): " + "; ".join(skipped[:5])
                                 + (" …" if len(skipped) > 5 else ""))
            self.skipped.show()

    def _failed(self, error: BaseException) -> None:
        self.summary.setText(f"Cannot read My digits: {error}")

    def done(self, result: int) -> None:  # closing: the reading job ends with the dialog
        self.jobs.shutdown(timeout=10.0)
        super().done(result)
