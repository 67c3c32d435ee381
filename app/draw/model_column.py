"""One model's column in the Draw tab: which model, how it does on My digits, what it reads.

Scoring the whole My-digits set reads every saved PNG and runs the model on all of them, so it is
a background job; the live reading of the one drawing is microseconds and stays on the GUI thread.
"""

from __future__ import annotations

import math
import time

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.draw.model_picker import LIVE_RUN_SECONDS, ClassifierCache, ModelPicker
from app.draw.prob_bars import PredictionView
from app.shared.dialogs import plain_tooltip
from app.shared.jobs import JobRunner
from core.data.my_digits import DigitScore, MyDigits
from core.onnx_io.classifier import DigitClassifier
from core.text import printable


def score_text(score: DigitScore) -> str:
    # Files left out are counted here and named in the tooltip: "61 saved" must never read as
    # "60 of 60" without a word.
    skipped = f", {len(score.skipped)} skipped" if score.skipped else ""
    if score.n == 0:
        return f"My digits: none saved yet{skipped}" if not skipped else \
            f"My digits: none readable{skipped}"
    return f"My digits: {score.accuracy:.1f} % right ({score.correct} of {score.n}{skipped})"


class ModelColumn(QWidget):
    """One model: its picker, its score on My digits, and what it reads in the drawing."""

    def __init__(self, cache: ClassifierCache, color: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.picker = ModelPicker(cache)
        self.score = QLabel(" ")
        self.score.setTextFormat(Qt.TextFormat.PlainText)
        self.score.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.view = PredictionView(color)
        self._scoring = JobRunner(self)
        self._scored: DigitClassifier | None = None  # whose score the label shows or awaits
        self._score_pending = False
        self._stalled: DigitClassifier | None = None  # ran out of time on a drawing: not rerun
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.picker)
        layout.addWidget(self.score)
        layout.addWidget(self.view, 1)

    @property
    def classifier(self) -> DigitClassifier | None:
        return self.picker.classifier

    @property
    def scoring(self) -> bool:
        """A My-digits score is being computed."""
        return self._score_pending

    def predict(self, image28: np.ndarray | None) -> None:
        clf = self.classifier
        if clf is None:
            reason = "loading the model…" if self.picker.loading else "no model loaded"
            self.view.show_prediction(None, reason=reason)
        elif clf is self._stalled:
            self.view.show_prediction(None, reason="the model is too slow: choose another")
        elif image28 is None:
            self.view.show_prediction(None)
        else:
            began = time.monotonic()
            try:
                self.view.show_prediction(clf.classify(image28))
            except Exception:  # a model that loads but fails at run time must not crash us
                if time.monotonic() - began >= 0.9 * LIVE_RUN_SECONDS:
                    # Stopped by the time limit: running it again would stall every stroke.
                    self._stalled = clf
                    self.view.show_prediction(None, reason="the model is too slow: "
                                                           "choose another")
                else:
                    self.view.show_prediction(None, reason="the model failed on this image")

    def show_score(self, store: MyDigits) -> None:
        """Score the current model on My digits in the background; the label says so meanwhile.
        A newer request (another model, a digit saved) drops the older one's result."""
        clf = self.classifier
        self._scoring.cancel()
        self._scored = clf
        self._score_pending = clf is not None
        if clf is None:
            self.score.setText(" ")
            self.score.setToolTip("")
            return
        self.score.setText("My digits: scoring…")
        self._scoring.start(store.score_classifier, clf, on_done=self._scored_done,
                            on_error=self._score_failed)

    @property
    def job_runners(self) -> list[JobRunner]:
        """The runners of this column's background work (loading its model, scoring it)."""
        return [self.picker.jobs, self._scoring]

    @Slot(object)
    def _scored_done(self, score: DigitScore) -> None:
        if self._scored is not self.classifier:  # the model changed meanwhile
            return
        self._score_pending = False
        self.score.setText(score_text(score))
        lines = [f"{d}: {score.class_accuracy(d):.0f} % of {n}"
                 for d, (_, n) in sorted(score.per_class.items())
                 if not math.isnan(score.class_accuracy(d))]
        if score.skipped:
            lines += ["", "Skipped:", *(printable(note, 200) for note in score.skipped[:20])]
            lines += [f"… and {len(score.skipped) - 20} more"] if len(score.skipped) > 20 else []
        self.score.setToolTip(plain_tooltip("\n".join(lines)))

    @Slot(object)
    def _score_failed(self, error: BaseException) -> None:
        # An unreadable set or a model failing on it: say so, carry on.
        if self._scored is not self.classifier:
            return
        self._score_pending = False
        self.score.setText(f"My digits: cannot score ({type(error).__name__})")
        self.score.setToolTip(plain_tooltip(str(error)))
