"""Live training curves: step loss, learning rate, and per-epoch train and test accuracy.

Metrics arrive in bursts from the worker; they are appended to growable numpy buffers and the
curves are redrawn from a QTimer at most 30 times a second, only when something new arrived.
Curves are created once and updated with `setData`, the cheap path in pyqtgraph.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.shared.style import series_color
from core.training.metrics import EpochMetrics, StepMetrics

REPAINT_MS = 33  # ≈ 30 Hz


class LiveSeries:
    """Appendable (x, y) buffers that double when full: O(1) appends, views for plotting."""

    def __init__(self, capacity: int = 1024) -> None:
        self._x = np.empty(capacity)
        self._y = np.empty(capacity)
        self.n = 0

    def extend(self, xs: Iterable[float], ys: Iterable[float]) -> None:
        xs, ys = np.fromiter(xs, float), np.fromiter(ys, float)
        need = self.n + len(xs)
        if need > len(self._x):
            size = max(need, 2 * len(self._x))
            self._x = np.resize(self._x, size)
            self._y = np.resize(self._y, size)
        self._x[self.n:need], self._y[self.n:need] = xs, ys
        self.n = need

    def clear(self) -> None:
        self.n = 0

    @property
    def x(self) -> np.ndarray:
        return self._x[:self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[:self.n]


def _style(item: pg.PlotItem, title: str, left: str, bottom: str = "epoch") -> None:
    item.setTitle(title)
    item.setLabel("left", left)
    item.setLabel("bottom", bottom)
    item.showGrid(x=True, y=True, alpha=0.15)
    item.getAxis("left").enableAutoSIPrefix(False)  # "0.05", not "50 (×0.001)"
    item.hideButtons()


def _dots(index: int, name: str) -> dict[str, Any]:
    color = series_color(index)
    return dict(pen=pg.mkPen(color, width=2), symbol="o", symbolSize=6, symbolBrush=color,
                symbolPen=None, name=name)


class LivePlots(QWidget):
    """2×2: step loss (log) over learning rate on the left, x-linked; per-epoch accuracy over
    per-epoch train and test loss on the right, x-linked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.view = pg.GraphicsLayoutWidget()
        layout.addWidget(self.view)
        self.loss_plot = self.view.addPlot(row=0, col=0)
        _style(self.loss_plot, "Training loss, per step", "loss")
        self.loss_plot.setLogMode(y=True)
        self.acc_plot = self.view.addPlot(row=0, col=1)
        _style(self.acc_plot, "Accuracy", "accuracy (%)")
        self.lr_plot = self.view.addPlot(row=1, col=0)
        _style(self.lr_plot, "Learning rate", "lr")
        self.lr_plot.setXLink(self.loss_plot)
        self.epoch_loss_plot = self.view.addPlot(row=1, col=1)
        _style(self.epoch_loss_plot, "Loss, per epoch", "loss")
        self.epoch_loss_plot.setXLink(self.acc_plot)
        grid = self.view.ci.layout
        grid.setRowStretchFactor(0, 3)
        grid.setRowStretchFactor(1, 2)
        grid.setColumnStretchFactor(0, 1)
        grid.setColumnStretchFactor(1, 1)
        for plot in (self.loss_plot, self.acc_plot, self.lr_plot, self.epoch_loss_plot):
            plot.getAxis("left").setWidth(52)  # equal axes keep the columns aligned
            plot.setMouseEnabled(x=False, y=False)

        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen(series_color(0), width=1.5))
        planned_pen = pg.mkPen(series_color(5), width=1, style=pg.QtCore.Qt.PenStyle.DashLine)
        self.planned_lr_curve = self.lr_plot.plot(pen=planned_pen)
        self.lr_curve = self.lr_plot.plot(pen=pg.mkPen(series_color(1), width=2))
        # Bottom right: accuracies rise toward the top, and the first epoch starts low on the left.
        self.acc_plot.addLegend(offset=(-10, -10), labelTextSize="9pt")
        self.train_acc_curve = self.acc_plot.plot(**_dots(1, "train (augmented)"))
        self.test_acc_curve = self.acc_plot.plot(**_dots(2, "test"))
        self.epoch_loss_plot.addLegend(offset=(-10, 10), labelTextSize="9pt")
        self.train_loss_curve = self.epoch_loss_plot.plot(**_dots(1, "train"))
        self.test_loss_curve = self.epoch_loss_plot.plot(**_dots(2, "test"))
        for index, curve in enumerate((self.train_acc_curve, self.test_acc_curve,
                                       self.train_loss_curve, self.test_loss_curve)):
            # Legends draw markers from the scatter's options, which data would set: set them
            # now, or an empty chart's legend shows grey-blue dots instead of the series colours.
            curve.scatter.setBrush(series_color(1 + index % 2))
            curve.scatter.setPen(pg.mkPen(None))
            curve.scatter.setSize(6)

        self.loss = LiveSeries()
        self.lr = LiveSeries()
        self.train_acc = LiveSeries(64)
        self.test_acc = LiveSeries(64)
        self.train_loss = LiveSeries(64)
        self.test_loss = LiveSeries(64)
        self._dirty = False
        self.timer = QTimer(self, interval=REPAINT_MS)
        self.timer.timeout.connect(self.repaint_curves)

    # --- feeding ----------------------------------------------------------------------------

    def reset(self, planned: tuple[np.ndarray, np.ndarray] | None, epochs: float) -> None:
        """Empty curves for a new run; `planned` is the (epoch, lr) schedule drawn dashed over
        `epochs` (a time budget's: 0 until its plan is known, see `set_plan`)."""
        self.planned_epochs = epochs
        for series in (self.loss, self.lr, self.train_acc, self.test_acc, self.train_loss,
                       self.test_loss):
            series.clear()
        if planned is not None:
            self.planned_lr_curve.setData(*planned)
        else:
            self.planned_lr_curve.setData([], [])
        self._set_epoch_axes(max(1.0, epochs))
        self.acc_plot.setTitle("Accuracy")
        # Until the first epoch: a percent axis (pyqtgraph's empty default is 0-1 ticks).
        self.acc_plot.setYRange(0.0, 100.0, padding=0)
        self._dirty = True
        self.repaint_curves()

    def set_plan(self, epochs: float, planned: tuple[np.ndarray, np.ndarray] | None) -> None:
        """A time budget's plan, as it becomes known: the x axes span `epochs` (fractional)
        and the dashed schedule is stretched over them."""
        self.planned_epochs = epochs
        if planned is not None:
            self.planned_lr_curve.setData(*planned)
        self._set_epoch_axes(epochs)

    def _set_epoch_axes(self, epochs: float) -> None:
        spacing = max(1, math.ceil(epochs / 10))  # whole epochs: no "2.5" ticks
        for plot in (self.loss_plot, self.lr_plot, self.acc_plot, self.epoch_loss_plot):
            plot.getAxis("bottom").setTickSpacing(spacing, spacing)
        self.loss_plot.setXRange(0, epochs, padding=0.02)
        self.acc_plot.setXRange(0.5, math.ceil(epochs) + 0.5, padding=0)

    def add_steps(self, steps: list[StepMetrics]) -> None:
        self.loss.extend((s.epoch for s in steps), (max(s.loss, 1e-6) for s in steps))
        self.lr.extend((s.epoch for s in steps), (s.lr for s in steps))
        self._dirty = True

    def add_epoch(self, metrics: EpochMetrics) -> None:
        self.train_acc.extend([metrics.epoch], [metrics.train_acc])
        self.test_acc.extend([metrics.epoch], [metrics.test_acc])
        self.train_loss.extend([metrics.epoch], [metrics.train_loss])
        self.test_loss.extend([metrics.epoch], [metrics.test_loss])
        best = int(np.argmax(self.test_acc.y))
        self.acc_plot.setTitle(f"Accuracy · test {metrics.test_acc:.2f}% "
                               f"(best {self.test_acc.y[best]:.2f}%)")
        self._dirty = True

    def load_history(self, steps: list[dict[str, Any]], epochs: list[EpochMetrics]) -> None:
        """Replay a stored run's curves (resuming it, or showing it)."""
        self.loss.extend((s["epoch"] for s in steps), (max(s["loss"], 1e-6) for s in steps))
        self.lr.extend((s["epoch"] for s in steps), (s["lr"] for s in steps))
        for metrics in epochs:
            self.add_epoch(metrics)
        self._dirty = True
        self.repaint_curves()

    # --- drawing ----------------------------------------------------------------------------

    def start_live(self) -> None:
        self.timer.start()

    def stop_live(self) -> None:
        self.timer.stop()
        self.repaint_curves()

    @Slot()
    def repaint_curves(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self.loss_curve.setData(self.loss.x, self.loss.y)
        self.lr_curve.setData(self.lr.x, self.lr.y)
        self.train_acc_curve.setData(self.train_acc.x, self.train_acc.y)
        self.test_acc_curve.setData(self.test_acc.x, self.test_acc.y)
        self.train_loss_curve.setData(self.train_loss.x, self.train_loss.y)
        self.test_loss_curve.setData(self.test_loss.x, self.test_loss.y)
        if self.test_acc.n:
            # Early epochs (~10-90%) would squash the interesting last percent: zoom on the top.
            low = float(min(self.test_acc.y[-3:].min(), self.train_acc.y[-3:].min()))
            self.acc_plot.setYRange(max(0.0, min(low - 0.5, 99.0)), 100.0, padding=0.05)
