"""A sweep over two or more settings, trial by trial: parallel coordinates (one line per trial,
coloured by the objective) and the importance of each setting (Optuna's PED-ANOVA, computed by
core/experiments/insight.py in a background job: importing Optuna alone takes a second).
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.compare.seed_bands import style_plot
from app.shared.jobs import JobRunner
from core.errors import DigitLabError
from core.experiments.insight import (
    Importance,
    ParallelCoordinates,
    SweepTrial,
    importance,
    parallel_coordinates,
)
from core.experiments.spec import ExperimentSpec
from core.experiments.statistics import METRIC_NAMES

COLORMAP = "viridis"  # dark (worst) to bright (best); readable in colour-blind vision
_BAR = 14  # characters of the widest importance bar


class SweepInsight(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.getPlotItem().hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.getAxis("left").hide()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMinimumHeight(220)
        self.colors_label = QLabel(textFormat=Qt.TextFormat.PlainText, wordWrap=True)
        self.colors_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        style_plot(self.plot, self)
        self.importance_label = QLabel(textFormat=Qt.TextFormat.PlainText, wordWrap=True)
        self.importance_label.setFixedWidth(300)
        self.bars_label = QLabel(textFormat=Qt.TextFormat.PlainText)  # one line per setting
        font = self.bars_label.font()
        font.setStyleHint(font.StyleHint.Monospace)
        font.setFamily("monospace")
        self.bars_label.setFont(font)
        left = QVBoxLayout()
        left.addWidget(self.plot, 1)
        left.addWidget(self.colors_label)
        right = QVBoxLayout()
        right.addWidget(self.importance_label)
        right.addWidget(self.bars_label)
        right.addStretch(1)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addLayout(left, 1)
        row.addLayout(right)
        self.jobs = JobRunner(self)
        self.coords: ParallelCoordinates | None = None
        self.ranking: Importance | None = None
        self._asked = 0

    def clear(self, why: str = "") -> None:
        self._asked += 1  # an importance still computing is for another experiment now
        self.jobs.cancel()
        self.plot.clear()
        self.coords, self.ranking = None, None
        self.colors_label.setText(why)
        self.importance_label.setText("")
        self.bars_label.setText("")

    def show_sweep(self, spec: ExperimentSpec, trials: list[SweepTrial], metric: str) -> None:
        self.clear()
        if not trials:
            self.colors_label.setText("No finished trial yet.")
            return
        self.coords = coords = parallel_coordinates(spec, trials, metric)
        self._draw(coords)
        self.importance_label.setText("Setting importance: computing…")
        asked = self._asked
        self.jobs.start(importance, spec, trials, metric,
                        on_done=lambda found: self._ranked(asked, found),
                        on_error=lambda error: self._not_ranked(asked, error))

    def _draw(self, coords: ParallelCoordinates) -> None:
        cmap = pg.colormap.get(COLORMAP)
        low, high = min(coords.objective), max(coords.objective)
        loss = coords.metric.endswith("loss")
        xs = list(range(len(coords.axes)))
        order = sorted(range(len(coords.lines)), key=lambda i: coords.objective[i] * (
            -1 if loss else 1))  # the best drawn last, on top
        for i in order:
            share = 0.5 if high == low else (coords.objective[i] - low) / (high - low)
            color = cmap.map(1 - share if loss else share, mode="qcolor")
            self.plot.plot(xs, coords.lines[i], pen=pg.mkPen(color, width=2))
        text = self.palette().color(QPalette.ColorRole.Text)
        for x, axis in enumerate(coords.axes):
            self.plot.addItem(pg.InfiniteLine(pos=x, angle=90, pen=pg.mkPen(text, width=1)))
            for position, label in axis.ticks():
                tick = pg.TextItem(label, color=text, anchor=(1.05, 0.5))
                tick.setPos(x, position)
                self.plot.addItem(tick)
        names = [a.name if a.name != coords.metric else f"final {coords.metric}"
                 for a in coords.axes]
        self.plot.getAxis("bottom").setTicks([[(x, n + (" (log)" if a.log else ""))
                                               for x, n, a in zip(xs, names, coords.axes,
                                                                  strict=True)]])
        self.plot.setXRange(-0.45, len(xs) - 0.8, padding=0)
        self.plot.setYRange(-0.05, 1.05, padding=0)
        best, worst = ("lowest", "highest") if loss else ("highest", "lowest")
        self.colors_label.setText(
            f"{len(coords.lines)} finished trials, one line each (every seed its own line). "
            f"Colour: final {METRIC_NAMES[coords.metric]}, bright = {best} "
            f"({high if not loss else low:.4g}), dark = {worst} "
            f"({low if not loss else high:.4g}).")

    def _ranked(self, asked: int, found: Importance) -> None:
        if asked != self._asked:
            return
        self.ranking = found
        self.importance_label.setText(
            f"Setting importance: how much each setting decides whether a trial is among the "
            f"best {found.top_quantile:.0%} of the {found.trials} finished, on "
            f"{METRIC_NAMES[found.metric]}; the shares sum to 1. Evaluator: Optuna's PED-ANOVA "
            f"(PedAnovaImportanceEvaluator).")
        widest = max(found.scores.values(), default=0.0) or 1.0
        name_width = max((len(n) for n in found.scores), default=0)
        self.bars_label.setText("\n".join(
            f"{name.ljust(name_width)} {score:4.2f} {'█' * round(_BAR * score / widest)}"
            for name, score in found.scores.items()))

    def _not_ranked(self, asked: int, error: BaseException) -> None:
        if asked != self._asked:
            return
        reason = str(error) if isinstance(error, DigitLabError) else type(error).__name__
        self.importance_label.setText(f"Setting importance: not computed ({reason})")

    def shutdown(self, timeout: float) -> bool:
        return self.jobs.shutdown(timeout)
