"""The prediction in big type and a bar per class: what one model thinks of the drawing.

The bar item is created once and updated with `setOpts` (heights and brushes only), so a live
update costs a repaint, not a rebuild of the plot.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from app.shared.style import palette_color
from core.onnx_io.classifier import Prediction

DIGITS = np.arange(10)


def _muted(color: QColor, alpha: int = 90) -> QColor:
    muted = QColor(color)
    muted.setAlpha(alpha)
    return muted


class ProbabilityBars(pg.PlotWidget):
    """Ten bars, 0–100 %; the top class in full colour, the others muted. No interaction:
    it is a gauge, not a plot to explore."""

    def __init__(self, color: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._color = QColor(color)
        self._top: int | None = None
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setMinimumHeight(140)
        item = self.getPlotItem()
        item.setXRange(-0.6, 9.6, padding=0)
        item.setYRange(0, 1.06, padding=0)  # room above 100 % for its tick label
        item.getAxis("bottom").setTicks([[(d, str(d)) for d in DIGITS]])
        item.getAxis("left").setTicks([[(0.5, "50%"), (1.0, "100%")]])
        item.getAxis("left").setWidth(44)
        item.getAxis("left").setStyle(hideOverlappingLabels=False)  # keep "100%" at the top
        for name in ("left", "bottom"):  # the grid and the bars' own places say enough
            item.getAxis(name).setStyle(tickLength=0)
        item.showGrid(x=False, y=True, alpha=0.15)
        self._bars = pg.BarGraphItem(x=DIGITS, height=np.zeros(10), width=0.72,
                                     pen=pg.mkPen(None), brushes=self._brushes(None))
        item.addItem(self._bars)
        self._apply_palette()

    def heights(self) -> np.ndarray:
        """The bar heights now shown, (10,) float (zeros for "no digit")."""
        return np.asarray(self._bars.opts["height"], dtype=float)

    def set_probabilities(self, probabilities: np.ndarray | None) -> None:
        """(10,) probabilities, or None for "no digit" (all bars empty)."""
        if probabilities is None:
            self._top = None
            heights = np.zeros(10)
        else:
            heights = np.asarray(probabilities, dtype=float).reshape(10)
            self._top = int(np.argmax(heights))
        self._bars.setOpts(height=heights, brushes=self._brushes(self._top))

    def _brushes(self, top: int | None) -> list[pg.QtGui.QBrush]:
        full, muted = pg.mkBrush(self._color), pg.mkBrush(_muted(self._color))
        return [full if d == top else muted for d in DIGITS]

    def _apply_palette(self) -> None:
        self.setBackground(palette_color(QPalette.ColorRole.Base))
        text = palette_color(QPalette.ColorRole.Text)
        for name in ("left", "bottom"):
            axis = self.getPlotItem().getAxis(name)
            axis.setPen(pg.mkPen(_muted(text, 110)))
            axis.setTextPen(pg.mkPen(text))

    def changeEvent(self, event: QEvent) -> None:
        # pyqtgraph's own constructor triggers palette events before the plot item exists.
        if event.type() == QEvent.Type.PaletteChange and getattr(self, "_bars", None):
            self._apply_palette()
        super().changeEvent(event)


class PredictionView(QWidget):
    """The top digit in big type with its confidence and the runner-up, beside the bars.

    "No digit" is shown as a dash with a hint, never as a guess.
    """

    def __init__(self, color: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._digit = QLabel("–")
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 5.5)
        font.setWeight(QFont.Weight.DemiBold)
        self._digit.setFont(font)
        self._digit.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._digit.setStyleSheet(f"color: {color};")
        self._confidence = QLabel()
        big = QFont(self.font())
        big.setPointSizeF(big.pointSizeF() * 1.45)
        self._confidence.setFont(big)
        self._confidence.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._runner_up = QLabel()
        for label in (self._digit, self._confidence, self._runner_up):
            label.setTextFormat(Qt.TextFormat.PlainText)
        self._runner_up.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._runner_up.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.bars = ProbabilityBars(color)
        self.bars.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

        text = QVBoxLayout()
        text.setSpacing(2)
        text.setContentsMargins(0, 8, 0, 0)
        text.addWidget(self._digit)
        text.addWidget(self._confidence)
        text.addWidget(self._runner_up)
        text.addStretch(1)
        text_box = QWidget()
        text_box.setLayout(text)
        text_box.setFixedWidth(150)  # fixed: the bars must not jump as the texts change
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(text_box)
        layout.addWidget(self.bars, 1)
        self.prediction: Prediction | None = None
        self.show_prediction(None)

    @property
    def digit_text(self) -> str:
        return self._digit.text()

    @property
    def confidence_text(self) -> str:
        return self._confidence.text()

    def show_prediction(self, prediction: Prediction | None, *, reason: str = "") -> None:
        """Show a prediction, or nothing with `reason` (default: the canvas holds no digit)."""
        self.prediction = prediction
        if prediction is None:
            self._digit.setText("–")
            self._confidence.setText(reason or "no digit")
            self._runner_up.setText("draw one on the canvas" if not reason else " ")
            self.bars.set_probabilities(None)
            return
        self._digit.setText(str(prediction.digit))
        self._confidence.setText(f"{100 * prediction.confidence:.1f} % sure")
        second, p = prediction.top(2)[1]
        self._runner_up.setText(f"next: {second} at {100 * p:.1f} %")
        self.bars.set_probabilities(prediction.probabilities)
