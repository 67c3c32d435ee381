""""Teach it my hand": fine-tune the model in use on My digits into a personal model.

The button waits until every digit has MIN_PER_DIGIT drawings. The work is
`core.workflows.finetune.finetune`, run through the tab's job helper; the personal model is
written to the exports folder (the Draw tab's model lists show it) and handed to the tab to open.
Which model is taught: the run the current model was exported from (or a personal model's own
base) when that run is still in the store, else the bundled model.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from app.shared.dialogs import show_error
from app.shared.jobs import JobRunner
from core.data.my_digits import MyDigits
from core.errors import DigitLabError
from core.jobs import Job
from core.onnx_io.classifier import DigitClassifier
from core.paths import exports_dir
from core.training.finetune import MIN_PER_DIGIT  # torch-free: torch loads inside the job


def teach_job(base: str, images: Any, labels: Any, output: Path, state: Job) -> Any:
    """The background work: imports torch in the job's thread, reports through `state`."""
    from core.workflows.finetune import finetune

    return finetune(base, images, labels, output, job=state)


def base_job(metadata: dict[str, str]) -> str:
    from core.workflows.finetune import base_for

    return base_for(metadata)


class TeachHand(QWidget):
    """The button and a one-line progress note beside it."""

    personal_model_ready = Signal(str)  # path of the new personal model
    status_message = Signal(str)

    def __init__(self, store: MyDigits, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        # Set by the tab: the classifier the first column shows (None: none loaded).
        self.current_classifier: Callable[[], DigitClassifier | None] = lambda: None
        self.jobs = JobRunner(self)
        self._result_for: Path | None = None  # the personal model the result line is about
        self.button = QPushButton("Teach it my hand")
        self.button.clicked.connect(self.start)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.button)
        layout.addWidget(self.note, 1)
        self.refresh()

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    @Slot()
    def refresh(self) -> None:
        """Enable the button once every digit has enough drawings; say what is missing."""
        if self.busy:
            return
        counts = self.store.counts_per_label()
        short = [d for d in range(10) if counts[d] < MIN_PER_DIGIT]
        self.button.setEnabled(not short)
        if short:
            self.note.setText(f"needs {MIN_PER_DIGIT} saved drawings of each digit")
            need = ", ".join(f"{d} ({counts[d]})" for d in short)
            self.button.setToolTip(f"Save at least {MIN_PER_DIGIT} drawings of each digit to My "
                                   f"digits first; still short: {need}")
        else:
            if self.note.text().startswith("needs"):
                self.note.setText("")
            self.button.setToolTip("Fine-tune the model in use on your saved digits (replaying "
                                   "MNIST so it does not forget) and open the personal model; "
                                   "a fifth of each digit is held back to measure it")

    @Slot()
    def start(self) -> None:
        if self.busy:
            return
        images, labels = self.store.images_labels()
        clf = self.current_classifier()
        metadata = dict(clf.metadata) if clf is not None else {}
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.button.setEnabled(False)
        self.note.setText("Preparing…")

        def with_base(base: str) -> None:
            output = exports_dir() / f"personal-{base}-{stamp}.onnx"
            self.jobs.start(teach_job, base, images, labels, output, on_done=self._done,
                            on_error=self._failed, on_progress=self._progress,
                            on_cancelled=self._cancelled)

        # Looking up the base reads the run store: off the GUI thread as well.
        self.jobs.start(base_job, metadata, on_done=with_base, on_error=self._failed)

    def model_changed(self, clf: DigitClassifier | None) -> None:
        """The first column now shows `clf`: a result line about another model goes (it named
        figures of the personal model just made, not of this one)."""
        if self._result_for is None:
            return
        if clf is None or Path(clf.path).resolve() != self._result_for:
            self._result_for = None
            self.note.setText("")
            self.refresh()

    def shutdown(self, timeout: float = 5.0) -> bool:
        return self.jobs.shutdown(timeout)

    @Slot(object)
    def _progress(self, value: object) -> None:
        self.note.setText(str(value))

    @Slot(object)
    def _done(self, result: Any) -> None:
        self.note.setText(f"Your digits: {result.holdout_before:.0f}% → "
                          f"{result.holdout_after:.0f}%; MNIST {result.mnist_after:.2f}%")
        self.status_message.emit(
            f"Personal model ready: held-back digits {result.holdout_before:.0f}% → "
            f"{result.holdout_after:.0f}%, MNIST test {result.mnist_before:.2f}% → "
            f"{result.mnist_after:.2f}% ({result.path.name})")
        self.refresh()
        self._result_for = Path(result.path).resolve()  # kept while that model is shown
        self.personal_model_ready.emit(str(result.path))

    @Slot(object)
    def _failed(self, error: BaseException) -> None:
        self.note.setText("")
        self.refresh()
        if isinstance(error, DigitLabError | OSError):
            show_error(self, "Teach it my hand", str(error))
        else:
            show_error(self, "Teach it my hand",
                       f"Fine-tuning failed ({type(error).__name__}: {error}).")

    @Slot()
    def _cancelled(self) -> None:
        self.note.setText("Stopped.")
        self.refresh()
