"""The strip shown when MNIST is not on this computer: fetch it, or point at a folder that has it.

The chosen folder is remembered in QSettings ("train/data_dir") and becomes `TrainConfig.data_dir`.
Fetching runs as a job (`fetch_job`) with a progress bar and a Cancel button.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.shared.dialogs import plain_tooltip
from app.shared.jobs import JobRunner
from app.train.training_job import DOWNLOAD_EVERY_S, Download
from core.data.mnist import SPLITS, find_mnist_files
from core.errors import DatasetError
from core.jobs import Job
from core.paths import default_data_dir

DATA_DIR_KEY = "train/data_dir"
NEEDED_FILES = (f"It needs the four MNIST files ({', '.join(SPLITS.values())}), gzipped or not, "
                f"also in a raw/ or MNIST/raw/ subfolder.")


def fetch_failure_text(error: BaseException) -> tuple[str, str]:
    """(headline, what to do) for a failed fetch, in the words of someone at the window.

    The error itself (mirror URLs, socket errors) is for the Details button, not the banner.
    """
    if isinstance(error, DatasetError) and "no network" in str(error):
        return ("Could not download MNIST.", "This computer seems to be offline, or the download "
                "servers cannot be reached. Try again later, or choose a folder that already "
                "holds the files.")
    if isinstance(error, OSError):
        return ("Could not save MNIST.", "There is no space left or no permission to write into "
                "its folder. Free some space, or choose a folder that already holds the files.")
    return ("Fetching MNIST failed.", "Try again, or choose a folder that already holds the "
            "files.")


def fetch_job(folder: Path, *, state: Job) -> Path:
    """Download MNIST into `folder` (a job: torchvision is imported in its thread).

    Progress arrives as `Download`s, at most ten a second; a cancel takes effect within one 64 KB
    chunk (core deletes the partial file on the way out).
    """
    import time

    from core.data.mnist import fetch_mnist

    last = 0.0

    def progress(what: str, done: int, total: int) -> None:
        nonlocal last
        if state.is_interruption_requested():
            raise DatasetError("Fetching MNIST was cancelled.")
        now = time.monotonic()
        if done == total or now - last >= DOWNLOAD_EVERY_S:
            last = now
            state.set_progress(Download(what, done, total))

    folder = fetch_mnist(folder, progress, state.is_interruption_requested)
    if find_mnist_files(folder) is None:
        raise DatasetError(f"Fetching finished but the MNIST files are not in {folder}.")
    return folder


def chosen_data_dir(settings: QSettings) -> str:
    """The folder the user chose ("" = none: DIGITLAB_DATA or the user data dir)."""
    folder = str(settings.value(DATA_DIR_KEY, "") or "")
    return folder if folder and find_mnist_files(Path(folder)) is not None else ""


class DataBanner(QFrame):
    """Hidden while MNIST is present. `data_ready(folder)` fires when it becomes available."""

    data_ready = Signal(str)
    status_message = Signal(str)

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("dataBanner")
        layout = QHBoxLayout(self)
        self.text = QLabel()
        self.text.setWordWrap(True)
        layout.addWidget(self.text, 1)
        self.progress_text = QLabel()  # beside the bar, not on it: readable on any chunk colour
        self.progress_text.setVisible(False)
        layout.addWidget(self.progress_text)
        self.progress = QProgressBar(textVisible=False)
        self.progress.setFixedSize(160, 8)
        self.progress.setVisible(False)
        layout.addWidget(self.progress)
        self.fetch_button = QPushButton("Fetch MNIST")
        self.fetch_button.setToolTip("Download the four MNIST files (about 11 MB) from "
                                     "torchvision's mirrors, checksums verified")
        self.fetch_button.clicked.connect(self.fetch)
        layout.addWidget(self.fetch_button)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setVisible(False)
        layout.addWidget(self.cancel_button)
        self.choose_button = QPushButton("Choose folder…")
        self.choose_button.setToolTip("A folder holding the four MNIST IDX files (gzipped or not)")
        self.choose_button.clicked.connect(self.choose_folder)
        layout.addWidget(self.choose_button)
        self.details_button = QPushButton("Details…")
        self.details_button.setToolTip("What exactly went wrong")
        self.details_button.clicked.connect(self.show_details)
        self.details_button.setVisible(False)
        layout.addWidget(self.details_button)
        self.details = ""  # the last failure's full text, for the Details button
        self.jobs = JobRunner(self)
        self.folder = Path(chosen_data_dir(settings) or default_data_dir())
        self.check()

    @property
    def data_dir(self) -> str:
        """What TrainConfig.data_dir gets: the chosen folder, or "" for the default rule."""
        return chosen_data_dir(self.settings)

    def check(self) -> bool:
        """Show or hide the banner; True when MNIST is there."""
        present = find_mnist_files(self.folder) is not None
        self.setVisible(not present)
        if not present:
            self._say("MNIST is not on this computer.",
                      "Training needs its four files: fetch them (about 11 MB), or choose a "
                      "folder that already holds them.",
                      f"Fetched files go into {self.folder}\n{NEEDED_FILES}")
        return present

    def _say(self, headline: str, text: str, tooltip: str = "", details: str = "") -> None:
        """Headline in bold, then the text; both may quote paths, so they are escaped."""
        self.text.setText(f"<b>{html.escape(headline)}</b> {html.escape(text)}")
        self.text.setToolTip(plain_tooltip(tooltip))
        self.details = details
        self.details_button.setVisible(bool(details))

    @Slot()
    def show_details(self) -> None:
        """The failure as the download reported it, in a plain-text box one can copy from."""
        dialog = QDialog(self)
        dialog.setWindowTitle("Fetching MNIST: details")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(dialog)
        text = QPlainTextEdit(self.details, readOnly=True)
        layout.addWidget(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        dialog.resize(640, 220)
        self.details_dialog = dialog
        dialog.open()

    @Slot()
    def fetch(self) -> None:
        if self.jobs.busy:
            return
        self.progress.setRange(0, 0)  # busy until the first byte counts arrive
        self.progress_text.setText("Connecting…")
        self._set_busy(True)
        self.jobs.start(fetch_job, self.folder, on_done=self._fetched, on_error=self._failed,
                        on_progress=self._progress, on_cancelled=self._cancelled)

    @Slot()
    def cancel(self) -> None:
        if self.jobs.busy:
            self.jobs.cancel()
            self.progress_text.setText("Cancelling…")

    def _progress(self, download: Download) -> None:
        what, done, total = download.what, download.done, download.total
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        size = f" of {total / 1e6:.1f}" if total else ""
        self.progress_text.setText(f"{what.removesuffix('.gz')}: {done / 1e6:.1f}{size} MB")

    def _fetched(self, folder: Path) -> None:
        self._set_busy(False)
        self.status_message.emit(f"MNIST is ready in {folder}.")
        self.check()
        self.data_ready.emit(str(self.folder))

    def _failed(self, error: BaseException) -> None:
        self._set_busy(False)
        headline, advice = fetch_failure_text(error)
        self._say(headline, advice, f"Fetched files go into {self.folder}", str(error))

    def _cancelled(self) -> None:
        self._set_busy(False)
        self.status_message.emit("Fetching MNIST was cancelled.")

    def _set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.progress_text.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.fetch_button.setVisible(not busy)
        self.choose_button.setEnabled(not busy)
        if busy:
            self.details_button.setVisible(False)

    @Slot()
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with the MNIST files",
                                                  str(self.folder))
        if folder:
            self.use_folder(folder)

    def use_folder(self, folder: str) -> bool:
        """Use `folder` if it holds MNIST (remembered in QSettings); False, and say why, if not."""
        if find_mnist_files(Path(folder)) is None:
            self._say(f"No MNIST files in {Path(folder).name or folder}.", NEEDED_FILES,
                      f"Looked in {folder}")
            self.setVisible(True)
            return False
        self.settings.setValue(DATA_DIR_KEY, folder)
        self.folder = Path(folder)
        self.check()
        self.status_message.emit(f"Using MNIST from {folder}.")
        self.data_ready.emit(folder)
        return True

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Cancel a fetch and wait up to `timeout` s for it to end; False if it did not."""
        return self.jobs.shutdown(timeout)
