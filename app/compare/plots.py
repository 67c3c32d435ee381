"""Overlay plots for the Compare tab: test accuracy and train/test loss per epoch, one colour a run,
or, where selected runs share a recipe (trials of one experiment, or the same config on other
seeds), per recipe the mean over its seeds with a ±1 std band (core/experiments/curves.py).

Curves are rebuilt only when the set of plotted runs (or their data) changes; that happens at
human speed, so clearing and re-adding a handful of items is simpler than bookkeeping.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.compare.seed_bands import add_band
from app.shared.dialogs import plain_tooltip
from app.shared.wording import plural
from core.experiments.curves import RecipeCurves, groups_seeds
from core.runs.report import TARGET_ACCURACY
from core.runs.store import RunRecord

# Lower edges the accuracy axis snaps to: a round number keeps the ticks calm.
_ACC_FLOORS = (99.0, 98.5, 98.0, 97.0, 95.0, 90.0, 80.0, 50.0, 0.0)


@dataclass(frozen=True)
class RunCurves:
    """One run's per-epoch numbers, as the plots need them."""

    name: str
    color: str
    epochs: list[int]
    test_acc: list[float]  # %
    train_loss: list[float]
    test_loss: list[float]


def series_from_record(record: RunRecord, color: str) -> RunCurves:
    history = record.history
    return RunCurves(record.name, color, [m["epoch"] for m in history],
                  [m["test_acc"] for m in history], [m["train_loss"] for m in history],
                  [m["test_loss"] for m in history])


def assign_color_slots(slots: dict[str, int], run_ids: list[str]) -> dict[str, int]:
    """RunCurves index per selected run. A run keeps its colour while it stays selected; a newly
    selected one takes the lowest free index, so colours do not shuffle as selection grows."""
    kept = {i: s for i, s in slots.items() if i in run_ids}
    for run_id in run_ids:
        if run_id not in kept:
            used = set(kept.values())
            kept[run_id] = next(n for n in range(len(run_ids) + 1) if n not in used)
    return kept


def accuracy_range(series: list[list[float]]) -> tuple[float, float]:
    """(low, high) for the accuracy axis: zoomed to where the runs end up, 99.4% always in view.

    The first epoch of a run with several is ignored (it is usually far below the rest and would
    squash the interesting part); it can still be seen by zooming out with the mouse.
    """
    values = [v for accs in series for v in (accs[1:] if len(accs) > 2 else accs)]
    if not values:
        return 97.0, 100.0
    low = min(values) - 0.1  # a curve should not sit on the frame
    floor = next(f for f in _ACC_FLOORS if f <= low)
    return floor, 100.0


class _LogAxis(pg.AxisItem):
    """Log-scale axis labelled at 1, 2 and 5 × 10ⁿ only, in plain decimals (0.02, not 2·10⁻²):
    labelling every minor tick crowds the axis."""

    def logTickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        strings = []
        for v in values:
            value = 10 ** float(v) * scale
            mantissa = round(value / 10 ** math.floor(math.log10(value)), 6)
            strings.append(f"{value:g}" if mantissa in (1, 2, 5) else "")
        return strings


def _hollow(color: QColor | str, fill: QColor) -> dict[str, object]:
    """Ring markers for test loss: told apart from the filled train-loss dots without colour."""
    return {"symbol": "o", "symbolSize": 6, "symbolPen": pg.mkPen(color, width=1.5),
            "symbolBrush": fill}


def _muted(widget: QWidget) -> QColor:
    color = widget.palette().color(QPalette.ColorRole.Text)
    color.setAlphaF(0.45)
    return color


class ComparePlots(QWidget):
    """Two plots side by side (accuracy, loss), or a hint when no run is selected. With recipe
    groups holding two or more runs, "Mean ± std over seeds" draws one band per recipe."""

    banding_changed = Signal(bool)  # the user toggled bands: rows take their recipe's colour

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._series: list[RunCurves] = []
        self._groups: list[RecipeCurves] = []
        self._group_colors: list[str] = []
        # Band fills are not data items: removed by hand, from the plot each is on.
        self._bands: list[tuple[pg.PlotWidget, pg.FillBetweenItem]] = []
        self.bands_box = QCheckBox("Mean ± std over seeds")
        self.bands_box.setToolTip("Runs of one recipe (an experiment's point, or the same "
                                  "settings on other seeds) as their mean with a ±1 std band, "
                                  "for every epoch all of them reached. Untick for each run.")
        self.bands_box.toggled.connect(self._bands_toggled)
        self.bands_note = QLabel(textFormat=Qt.TextFormat.PlainText)
        self.bands_note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.acc_plot = pg.PlotWidget()
        self.loss_plot = pg.PlotWidget(axisItems={"left": _LogAxis("left")})
        for plot in (self.acc_plot, self.loss_plot):
            item = plot.getPlotItem()
            item.showGrid(x=True, y=True, alpha=0.15)
            item.setMenuEnabled(False)
            item.hideButtons()  # the "A" autoscale button reads as clutter; set_series refits
            item.setLabel("bottom", "epoch")
        self.acc_plot.setLogMode(y=False)
        self.loss_plot.setLogMode(y=True)  # losses fall over two decades; log keeps both legible
        self.acc_legend = self.acc_plot.addLegend(offset=(-10, -10))  # bottom right: empty there
        self.loss_legend = self.loss_plot.addLegend(offset=(-10, 10))  # top right, above curves
        self.target_line = pg.InfiniteLine(pos=TARGET_ACCURACY, angle=0, movable=False,
                                           label=f"{TARGET_ACCURACY:g}% target",
                                           labelOpts={"position": 0.06, "anchors": [(0, 1),
                                                                                   (0, 1)]})
        self.acc_plot.addItem(self.target_line, ignoreBounds=True)

        self.hint = QLabel("Select one or more runs above to overlay their curves.\n"
                           "Ctrl-click or Shift-click to pick several.")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)  # guidance, muted

        plots = QWidget()
        column = QVBoxLayout(plots)
        column.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.addWidget(self.bands_box)
        bar.addWidget(self.bands_note, 1)
        column.addLayout(bar)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(12)
        row.addWidget(self.acc_plot)
        row.addWidget(self.loss_plot)
        column.addLayout(row, 1)
        self._show_bands_box(False)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.hint)
        self.stack.addWidget(plots)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self._apply_palette()

    # -- public -------------------------------------------------------------------------------
    def set_series(self, series: list[RunCurves], groups: list[RecipeCurves] | None = None,
                   group_colors: list[str] | None = None) -> None:
        """Replace every curve. Called once per change of the plotted runs. `groups`: the same
        runs by recipe (with a colour each), drawn as bands while `banding`."""
        self._series = list(series)
        self._groups, self._group_colors = list(groups or []), list(group_colors or [])
        self._show_bands_box(groups_seeds(self._groups))
        for plot, legend in ((self.acc_plot, self.acc_legend), (self.loss_plot, self.loss_legend)):
            legend.clear()
            for item in list(plot.getPlotItem().listDataItems()):
                plot.removeItem(item)
        for plot, fill in self._bands:
            plot.removeItem(fill)
        self._bands = []
        self.stack.setCurrentIndex(1 if series else 0)
        if not series:
            return
        self.bands_note.setText(f"{len(self._groups)} recipe(s) among the selected runs: tick "
                                f"to draw each as the mean ± std over its runs (seeds).")
        if self.banding:
            self._draw_bands()
            self._add_style_legend()
            self._fit()
            return
        for s in series:
            # Dots on every epoch: a one-epoch run has no line to draw, only its points.
            dot = {"symbol": "o", "symbolSize": 5, "symbolPen": None, "symbolBrush": s.color}
            acc = self.acc_plot.plot(s.epochs, s.test_acc, name=s.name,
                                     pen=pg.mkPen(s.color, width=2), **dot)
            # Run names come from files: the legend (HTML) and tooltip show them as text.
            self.acc_legend.getLabel(acc).setText(html.escape(s.name))
            acc.setToolTip(plain_tooltip(s.name))
            # Log axes cannot show zero; a loss of exactly 0 is not a real measurement anyway.
            self.loss_plot.plot(s.epochs, [max(v, 1e-6) for v in s.train_loss],
                                pen=pg.mkPen(s.color, width=2), **dot)
            self.loss_plot.plot(s.epochs, [max(v, 1e-6) for v in s.test_loss],
                                pen=pg.mkPen(s.color, width=2, style=Qt.PenStyle.DashLine),
                                **_hollow(s.color, self.palette().color(QPalette.ColorRole.Base)))
        self._add_style_legend()
        self._fit()

    @property
    def series(self) -> list[RunCurves]:
        return list(self._series)

    @property
    def banding(self) -> bool:
        """Bands are drawn: some recipe holds two or more runs and the box is ticked."""
        return groups_seeds(self._groups) and self.bands_box.isChecked()

    def set_banding(self, on: bool) -> None:
        """Tick or untick the box without a banding_changed signal (the tab's default)."""
        self.bands_box.blockSignals(True)
        self.bands_box.setChecked(on)
        self.bands_box.blockSignals(False)

    def accuracy_curves(self) -> list[pg.PlotDataItem]:
        return list(self.acc_plot.getPlotItem().listDataItems())

    def loss_curves(self) -> list[pg.PlotDataItem]:
        return list(self.loss_plot.getPlotItem().listDataItems())

    # -- internals ----------------------------------------------------------------------------
    def _show_bands_box(self, shown: bool) -> None:
        self.bands_box.setVisible(shown)
        self.bands_note.setVisible(shown)

    @Slot(bool)
    def _bands_toggled(self, on: bool) -> None:
        self.banding_changed.emit(on)

    def _draw_bands(self) -> None:
        """Per recipe: test accuracy, train loss (solid) and test loss (dashed), mean ± std."""
        base = self.palette().color(QPalette.ColorRole.Base)
        before = {id(i) for p in (self.acc_plot, self.loss_plot) for i in p.getPlotItem().items}
        plots = (self.acc_plot, self.loss_plot)
        for c, color in zip(self._groups, self._group_colors, strict=True):
            label = f"{c.label} (n={c.n})"
            acc = add_band(self.acc_plot, c, "test_acc", color, name=label)
            if acc is not None:  # recipe labels come from files: the legend shows them as text
                self.acc_legend.getLabel(acc).setText(html.escape(label))
                acc.setToolTip(plain_tooltip(label))
            add_band(self.loss_plot, c, "train_loss", color, log=True)
            test = add_band(self.loss_plot, c, "test_loss", color, log=True)
            if test is not None:
                test.setPen(pg.mkPen(color, width=2, style=Qt.PenStyle.DashLine))
                test.setSymbolPen(pg.mkPen(color, width=1.5))
                test.setSymbolBrush(base)
        self._bands = [(p, i) for p in plots for i in p.getPlotItem().items
                       if id(i) not in before and isinstance(i, pg.FillBetweenItem)]
        widest = max(c.n for c in self._groups)
        self.bands_note.setText(f"{plural(len(self._groups), 'recipe')}, up to "
                                f"{plural(widest, 'run')} each: "
                                f"the band is ±1 std over the runs (seeds).")

    def _add_style_legend(self) -> None:
        """The loss legend explains line styles; colours are named once, in the accuracy plot."""
        muted = _muted(self)
        base = self.palette().color(QPalette.ColorRole.Base)
        for label, style, dots in (
                ("train loss", Qt.PenStyle.SolidLine,
                 {"symbol": "o", "symbolSize": 5, "symbolPen": None, "symbolBrush": muted}),
                ("test loss", Qt.PenStyle.DashLine, _hollow(muted, base))):
            sample = pg.PlotDataItem(pen=pg.mkPen(muted, width=2, style=style), **dots)
            # The legend draws the marker from the scatter's options, set only with data.
            sample.scatter.setPen(dots["symbolPen"] or pg.mkPen(None))
            sample.scatter.setBrush(dots["symbolBrush"])
            sample.scatter.setSize(dots["symbolSize"])
            self.loss_legend.addItem(sample, label)

    def _fit(self) -> None:
        last_epoch = max((max(s.epochs) for s in self._series if s.epochs), default=1)
        spacing = 1 if last_epoch <= 15 else 5 if last_epoch <= 60 else 10
        for plot in (self.acc_plot, self.loss_plot):
            plot.setXRange(0.5, last_epoch + 0.5, padding=0)
            plot.getAxis("bottom").setTickSpacing(spacing, spacing)
        low, high = accuracy_range([s.test_acc for s in self._series])
        self.acc_plot.setYRange(low, high, padding=0.02)
        self.loss_plot.enableAutoRange(axis="y")

    def _apply_palette(self) -> None:
        """Follow the window's light or dark palette, whatever pyqtgraph's global defaults say."""
        pal = self.palette()
        text, base = pal.color(QPalette.ColorRole.Text), pal.color(QPalette.ColorRole.Base)
        font = QFont(self.font())
        font.setPointSizeF(max(8.0, font.pointSizeF() * 0.9))
        titles = (("Test accuracy (%)", self.acc_plot), ("Loss per epoch", self.loss_plot))
        for title, plot in titles:
            plot.setBackground(base)
            item = plot.getPlotItem()
            item.setTitle(title, color=text.name(), size=f"{font.pointSizeF():.0f}pt")
            for name in ("left", "bottom"):
                axis = item.getAxis(name)
                axis.setPen(pg.mkPen(_muted(self)))
                axis.setTextPen(pg.mkPen(text))
                axis.setTickFont(font)
                axis.label.setDefaultTextColor(text)
        for legend in (self.acc_legend, self.loss_legend):
            legend.setLabelTextColor(text)
            legend.setBrush(pg.mkBrush(base.red(), base.green(), base.blue(), 210))
            legend.setPen(pg.mkPen(_muted(self)))
        line_color = QColor(text)
        line_color.setAlphaF(0.55)
        self.target_line.setPen(pg.mkPen(line_color, width=1, style=Qt.PenStyle.DashLine))
        self.target_line.label.setColor(line_color)
        if self._series:  # legend samples take the new muted colour
            self.set_series(self._series, self._groups, self._group_colors)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_palette()
        super().changeEvent(event)
