"""Curves over seeds in pyqtgraph: per recipe the mean with a ±1 std band, or its single runs.

The numbers come from core/experiments/curves.py (`RecipeCurves`); this module only draws them,
for the Experiments window (`BandPlots`: test accuracy, validation accuracy, loss) and the
Compare tab (`add_band`, on its own plots).
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QCheckBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.shared.style import series_color
from core.experiments.curves import RecipeCurves
from core.runs.record import RunRecord

BAND_ALPHA = 0.22  # the band under the mean line: visible, and bands of two recipes show both
LOG_FLOOR = 1e-6  # log axes cannot show zero or below (a band's lower edge can go there)


def style_plot(plot: pg.PlotWidget, widget: QWidget) -> None:
    """Follow the window's palette (light or dark), whatever pyqtgraph's defaults say."""
    pal = widget.palette()
    text, base = pal.color(QPalette.ColorRole.Text), pal.color(QPalette.ColorRole.Base)
    muted = QColor(text)
    muted.setAlphaF(0.45)
    plot.setBackground(base)
    item = plot.getPlotItem()
    item.titleLabel.setText(item.titleLabel.text, color=text.name())
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(muted))
        axis.setTextPen(pg.mkPen(text))
        axis.label.setDefaultTextColor(text)


def spans_decades(values: list[float]) -> bool:
    """A log axis pays only when the values span a decade or more."""
    positive = [v for v in values if v > 0]
    return bool(positive) and max(positive) / min(positive) >= 10.0


def add_band(plot: pg.PlotWidget, curves: RecipeCurves, metric: str, color: str, *,
             log: bool = False, name: str | None = None) -> pg.PlotDataItem | None:
    """The recipe's mean of `metric` as a line with dots, over a ±1 std band; returns the line
    (None when the recipe holds no such figure). Bands are plain graphics items, not data
    items, so they never count as curves."""
    band = curves.bands.get(metric)
    if band is None:
        return None
    if band.n > 1 and any(s for s in band.std):
        low, high = band.lower(), band.upper()
        if log:  # a log axis's view is in log10 units; the band's items must be too
            low = [math.log10(max(v, LOG_FLOOR)) for v in low]
            high = [math.log10(max(v, LOG_FLOOR)) for v in high]
        edges = [pg.PlotCurveItem(band.epochs, values, pen=pg.mkPen(None)) for values in
                 (low, high)]
        fill = QColor(color)
        fill.setAlphaF(BAND_ALPHA)
        plot.addItem(pg.FillBetweenItem(*edges, brush=pg.mkBrush(fill)))
    dots = {"symbol": "o", "symbolSize": 5, "symbolPen": None, "symbolBrush": color}
    means = [max(v, LOG_FLOOR) for v in band.mean] if log else band.mean
    return plot.plot(band.epochs, means, pen=pg.mkPen(color, width=2), name=name, **dots)


def add_runs(plot: pg.PlotWidget, records: list[RunRecord], metric: str, color: str, *,
             log: bool = False) -> list[pg.PlotDataItem]:
    """Each run's own curve of `metric`, thin, in the recipe's colour."""
    items = []
    for record in records:
        points = [(m["epoch"], m[metric]) for m in record.history
                  if isinstance(m.get(metric), int | float)]
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        ys = tuple(max(y, LOG_FLOOR) for y in ys) if log else ys
        items.append(plot.plot(list(xs), list(ys), pen=pg.mkPen(color, width=1),
                               symbol="o", symbolSize=3, symbolPen=None, symbolBrush=color))
    return items


class BandPlots(QWidget):
    """Test accuracy, validation accuracy and test loss per epoch: per recipe mean ± std over
    its seeds, or (toggle) every seed's run."""

    PANELS = (("test_acc", "Test accuracy (%)", False),
              ("val_acc", "Validation accuracy (%)", False),
              ("test_loss", "Test loss", True))
    toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bands_box = QCheckBox("Mean ± std over seeds")
        self.bands_box.setChecked(True)
        self.bands_box.setToolTip("Per recipe, the mean over its seeds with a band of ±1 "
                                  "standard deviation, for every epoch all seeds reached. "
                                  "Untick to see each seed's run.")
        self.bands_box.toggled.connect(self._redraw)
        self.note = QLabel(textFormat=Qt.TextFormat.PlainText)
        self.note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        bar = QHBoxLayout()
        bar.addWidget(self.bands_box)
        bar.addWidget(self.note, 1)
        self.plots: dict[str, pg.PlotWidget] = {}
        row = QHBoxLayout()
        for metric, title, log in self.PANELS:
            plot = pg.PlotWidget(title=title)
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setLabel("bottom", "epoch")
            plot.setLogMode(y=log)
            plot.getPlotItem().hideButtons()
            plot.setMinimumHeight(200)
            self.plots[metric] = plot
            row.addWidget(plot)
            style_plot(plot, self)
        # The legend sits under the plots (in the plot it hid curves): plain-text labels, as
        # recipe names come from experiment files.
        self.legend = QGridLayout()
        self.legend.setHorizontalSpacing(14)
        self.legend_labels: list[str] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addLayout(row, 1)
        layout.addLayout(self.legend)
        self._curves: list[RecipeCurves] = []
        self._records: dict[str, RunRecord] = {}

    def set_curves(self, curves: list[RecipeCurves], records: list[RunRecord]) -> None:
        self._curves = list(curves)
        self._records = {r.id: r for r in records}
        self._redraw()

    @property
    def showing_bands(self) -> bool:
        return self.bands_box.isChecked()

    def _set_legend(self) -> None:
        while self.legend.count():
            widget = self.legend.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.legend_labels = []
        for i, c in enumerate(self._curves):
            swatch = QLabel()
            swatch.setFixedSize(12, 12)
            swatch.setStyleSheet(f"background: {series_color(i)}; border-radius: 2px;")
            text = f"{c.label} ({c.n} seed{'s' * (c.n != 1)})"
            label = QLabel(text, textFormat=Qt.TextFormat.PlainText)
            self.legend_labels.append(text)
            row, column = divmod(i, 3)
            self.legend.addWidget(swatch, row, 2 * column)
            self.legend.addWidget(label, row, 2 * column + 1)
        self.legend.setColumnStretch(5, 1)

    @Slot()
    def _redraw(self) -> None:
        self._set_legend()
        for plot in self.plots.values():
            plot.clear()
        bands = self.showing_bands
        for metric, _, log in self.PANELS:
            held = [v for c in self._curves if metric in c.bands
                    for v in c.bands[metric].lower() + c.bands[metric].upper()]
            log = log and spans_decades(held)  # a narrow loss range reads better linear
            plot = self.plots[metric]
            plot.setLogMode(y=log)
            for i, c in enumerate(self._curves):
                color = series_color(i)
                if bands:
                    add_band(plot, c, metric, color, log=log)
                else:
                    add_runs(plot, [self._records[r] for r in c.run_ids if r in self._records],
                             metric, color, log=log)
        held = {m for c in self._curves for m in c.bands}
        missing = [title for metric, title, _ in self.PANELS if metric not in held]
        epochs = max((max(b.epochs) for c in self._curves for b in c.bands.values()), default=0)
        self.note.setText(
            ("; ".join(f"{t}: not recorded" for t in missing) if missing else "")
            + ("" if bands or not self._curves else "  Each line is one seed's run."))
        for plot in self.plots.values():
            plot.setXRange(0.5, max(epochs, 1) + 0.5, padding=0)
            plot.getAxis("bottom").setTickSpacing(1 if epochs <= 15 else 5, 1)
            plot.enableAutoRange(axis="y")
        self.toggled.emit(bands)
