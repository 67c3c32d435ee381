"""One model's column in the Draw tab: which model, how it does on My digits, what it reads."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.draw.model_picker import ClassifierCache, ModelPicker
from app.draw.prob_bars import PredictionView
from core.data.my_digits import MyDigits
from core.onnx_io.classifier import DigitClassifier


class ModelColumn(QWidget):
    """One model: its picker, its score on My digits, and what it reads in the drawing."""

    def __init__(self, cache: ClassifierCache, color: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.picker = ModelPicker(cache)
        self.score = QLabel()
        self.score.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.view = PredictionView(color)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.picker)
        layout.addWidget(self.score)
        layout.addWidget(self.view, 1)

    @property
    def classifier(self) -> DigitClassifier | None:
        return self.picker.classifier

    def predict(self, image28: np.ndarray | None) -> None:
        clf = self.classifier
        if clf is None:
            self.view.show_prediction(None, reason="no model loaded")
        elif image28 is None:
            self.view.show_prediction(None)
        else:
            try:
                self.view.show_prediction(clf.classify(image28))
            except Exception:  # a model that loads but fails at run time must not crash us
                self.view.show_prediction(None, reason="the model failed on this image")

    def show_score(self, store: MyDigits) -> None:
        clf = self.classifier
        if clf is None:
            self.score.setText(" ")
            return
        try:
            score = store.score_classifier(clf)
        except Exception as e:  # unreadable set or failing model: say so, carry on
            self.score.setText(f"My digits: cannot score ({type(e).__name__})")
            return
        if score.n == 0:
            self.score.setText("My digits: none saved yet")
        else:
            self.score.setText(f"My digits: {score.accuracy:.1f} % right "
                               f"({score.correct} of {score.n})")
        self.score.setToolTip("\n".join(
            f"{d}: {score.class_accuracy(d):.0f} % of {n}"
            for d, (_, n) in sorted(score.per_class.items())
            if not math.isnan(score.class_accuracy(d))))
