"""The strip shown when MNIST is not on this computer: fetch it, or point at a folder that has it.

The chosen folder is remembered in QSettings ("train/data_dir") and becomes `TrainConfig.data_dir`.
Fetching runs as a job (`fetch_job`) with a progress bar and a Cancel button.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QWidget,
)

from app.shared.jobs import JobRunner
from app.train.training_job import DOWNLOAD_EVERY_S, Download, ProgressState
from core.data.mnist import describe_missing, find_mnist_files
from core.errors import DatasetError
from core.paths import default_data_dir

DATA_DIR_KEY = "train/data_dir"


def fetch_job(folder: Path, *, state: ProgressState) -> Path:
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
            self.text.setText(f"<b>MNIST is not on this computer.</b> Training needs its four "
                              f"files. Fetch them (about 11 MB) into <i>{self.folder}</i>, or "
                              f"choose a folder that already holds them.")
            self.text.setToolTip(describe_missing(self.folder))
        return present

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
        self.text.setText(f"<b>Fetching MNIST failed.</b> {error}")

    def _cancelled(self) -> None:
        self._set_busy(False)
        self.status_message.emit("Fetching MNIST was cancelled.")

    def _set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.progress_text.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.fetch_button.setVisible(not busy)
        self.choose_button.setEnabled(not busy)

    @Slot()
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with the MNIST files",
                                                  str(self.folder))
        if folder:
            self.use_folder(folder)

    def use_folder(self, folder: str) -> bool:
        """Use `folder` if it holds MNIST (remembered in QSettings); False, and say why, if not."""
        if find_mnist_files(Path(folder)) is None:
            self.text.setText(f"<b>No MNIST files in {folder}.</b> It needs "
                              f"train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                              f"t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (gzipped or "
                              f"not, also in a raw/ or MNIST/raw/ subfolder).")
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
