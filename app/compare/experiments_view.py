"""Experiments in the Compare tab: trials grouped by recipe, their spread over seeds, verdicts,
a swept setting plotted against the objective, and the Markdown report.

Everything shown is computed by core/experiments/statistics.py from the run store; this view only
lays it out. "Select runs" selects the experiment's runs in the Compare table, so their curves
overlay there.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.shared.dialogs import MARKDOWN, MARKDOWN_FILTER, save_file, show_error
from app.shared.style import BAD_COLOR, OK_COLOR, series_color
from core.errors import DigitLabError
from core.experiments.statistics import (
    METRIC_NAMES,
    decision_metric,
    differences,
    group_stats,
    markdown_report,
    sweep_points,
)
from core.experiments.storage import ExperimentStore
from core.runs.store import RunStore

_COLUMNS = ("Recipe", "Seeds done", "Final test (mean ± std)", "Min", "Max",
            "Final val. (mean ± std)", "Consistent ≥99.4%")


class ExperimentsView(QWidget):
    runs_chosen = Signal(list)  # run ids of the shown experiment's trials

    def __init__(self, store: ExperimentStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.experiment_box = QComboBox()
        self.experiment_box.currentTextChanged.connect(self.show_experiment)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        self.select_button = QPushButton("Select runs in the table")
        self.select_button.clicked.connect(self._select_runs)
        self.export_button = QPushButton("Export Markdown…")
        self.export_button.clicked.connect(self._export)
        top = QHBoxLayout()
        top.addWidget(QLabel("Experiment"))
        top.addWidget(self.experiment_box, 1)
        top.addWidget(refresh)
        top.addWidget(self.select_button)
        top.addWidget(self.export_button)

        self.about_label = QLabel(textFormat=Qt.TextFormat.PlainText, wordWrap=True)
        self.groups = QTableWidget(0, len(_COLUMNS))
        self.groups.setHorizontalHeaderLabels(list(_COLUMNS))
        header = self.groups.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.groups.verticalHeader().hide()
        self.groups.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.verdict_label = QLabel(textFormat=Qt.TextFormat.PlainText, wordWrap=True)

        self.setting_box = QComboBox()
        self.setting_box.currentTextChanged.connect(self._plot)
        self.plot = pg.PlotWidget()
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setMinimumHeight(220)
        plot_row = QHBoxLayout()
        plot_row.addWidget(QLabel("Swept setting"))
        plot_row.addWidget(self.setting_box)
        plot_row.addStretch(1)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.about_label)
        layout.addWidget(self.groups, 1)
        layout.addWidget(self.verdict_label)
        layout.addLayout(plot_row)
        layout.addWidget(self.plot, 2)
        self._spec: Any = None
        self._states: list[Any] = []
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        current = self.experiment_box.currentText()
        names = self.store.names()
        self.experiment_box.blockSignals(True)
        self.experiment_box.clear()
        self.experiment_box.addItems(names)
        if current in names:
            self.experiment_box.setCurrentText(current)
        self.experiment_box.blockSignals(False)
        self.show_experiment(self.experiment_box.currentText())

    @Slot(str)
    def show_experiment(self, name: str) -> None:
        self._spec, self._states = None, []
        self.groups.setRowCount(0)
        self.setting_box.clear()
        self.plot.clear()
        self.verdict_label.clear()
        for button in (self.select_button, self.export_button):
            button.setEnabled(bool(name))
        if not name:
            self.about_label.setText("No experiments yet: Train tab → Run N seeds… or Sweep…, "
                                     "or `digitlab-cli experiment run`.")
            return
        try:
            self._spec = self.store.load(name)
            self._states = self.store.states(name, seeds=self._spec.seeds)
        except DigitLabError as error:
            self.about_label.setText(f"Experiment {name} cannot be read: {error}")
            return
        spec, states = self._spec, self._states
        finished = sum(1 for s in states if s.finished)
        self.about_label.setText(
            f"{spec.description or spec.name}: {len(states)} trials, {finished} finished; seeds "
            f"{', '.join(map(str, spec.seeds))}; choices on {METRIC_NAMES[spec.objective]}.")
        groups = group_stats(spec, states)
        self.groups.setRowCount(len(groups))
        for row, g in enumerate(groups):
            cells = [g.label, f"{g.finished}/{g.trials}" + (f" ({g.failed} failed)"
                                                           if g.failed else ""),
                     f"{g.test.text()}%" if g.test else "–",
                     f"{g.test.low:.2f}%" if g.test else "–",
                     f"{g.test.high:.2f}%" if g.test else "–",
                     f"{g.val.text()}%" if g.val else "–",
                     "all" if g.all_consistent else f"{g.consistent}/{g.trials}"]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 6:
                    item.setForeground(pg.mkColor(OK_COLOR if g.all_consistent else BAD_COLOR))
                self.groups.setItem(row, column, item)
        self.verdict_label.setText(self._verdicts(groups, spec.objective))
        searched = list(spec.search.space)
        self.setting_box.addItems(searched)
        self.setting_box.setEnabled(bool(searched))
        if not searched:
            self._plot_groups(groups, decision_metric(groups, spec.objective))

    def _verdicts(self, groups: list[Any], objective: str) -> str:
        lines = differences(groups, objective)
        return "\n".join(lines[:1] + [f"• {line}" for line in lines[1:]])

    @Slot(str)
    def _plot(self, setting: str) -> None:
        self.plot.clear()
        if not setting or self._spec is None:
            return
        groups = group_stats(self._spec, self._states)
        metric = decision_metric(groups, self._spec.objective)
        points = sweep_points(self._spec, self._states, setting)
        self.plot.setLabel("left", f"final {METRIC_NAMES[metric]}")
        self.plot.setLabel("bottom", setting)
        numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x, _ in points)
        values = sorted({x for x, _ in points}, key=str) if not numeric else []
        xs = [float(x) if numeric else values.index(x) for x, _ in points]
        ys = [y for _, y in points]
        if not numeric:  # categories: one slot each, named on the axis
            self.plot.getAxis("bottom").setTicks([list(enumerate(map(str, values)))])
        self.plot.addItem(pg.ScatterPlotItem(xs, ys, size=9, brush=series_color(0),
                                             pen=None, name="trials"))
        means: dict[float, list[float]] = {}
        for x, y in zip(xs, ys, strict=True):
            means.setdefault(x, []).append(y)
        order = sorted(means)
        self.plot.plot(order, [sum(means[x]) / len(means[x]) for x in order],
                       pen=pg.mkPen(series_color(1), width=2), symbol="d", symbolSize=8,
                       symbolBrush=series_color(1), name="mean over seeds")

    def _plot_groups(self, groups: list[Any], metric: str) -> None:
        """No swept setting (seeds, or named recipes): each recipe's seeds side by side."""
        self.plot.setLabel("left", f"final {METRIC_NAMES[metric]}")
        self.plot.setLabel("bottom", "recipe")
        self.plot.getAxis("bottom").setTicks([[(i, g.label) for i, g in enumerate(groups)]])
        for i, g in enumerate(groups):
            ys = g.values[metric]
            self.plot.addItem(pg.ScatterPlotItem([i] * len(ys), ys, size=9,
                                                 brush=series_color(i), pen=None))
            if ys:  # the mean over seeds, a bar across the seeds' dots
                mean = sum(ys) / len(ys)
                self.plot.plot([i - 0.2, i + 0.2], [mean, mean],
                               pen=pg.mkPen(series_color(i), width=2))
        self.plot.setXRange(-0.5, len(groups) - 0.5)

    @Slot()
    def _select_runs(self) -> None:
        self.runs_chosen.emit([s.run.id for s in self._states if s.run is not None])

    @Slot()
    def _export(self) -> None:
        if self._spec is None:
            return
        path = save_file(self, "Save the experiment report", MARKDOWN_FILTER, MARKDOWN,
                         f"{self._spec.name}.md")
        if path is None:
            return
        from core.fileio import write_bytes_atomic

        text = markdown_report(self._spec, self._states, self.store.sessions(self._spec.name))
        try:
            write_bytes_atomic(path, text.encode("utf-8"))
        except DigitLabError as error:
            show_error(self, "Cannot save the report", str(error))


class ExperimentsDialog(QDialog):
    def __init__(self, store: RunStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Experiments")
        self.view = ExperimentsView(ExperimentStore(store), self)
        QVBoxLayout(self).addWidget(self.view)
        self.resize(900, 700)


def add_experiments_button(bar: QHBoxLayout, tab: Any) -> QToolButton:
    """An "Experiments…" button on the Compare tab's tool bar: opens the experiments window on
    the tab's run store; "Select runs" there selects the trials' runs in the tab's table."""
    button = QToolButton(text="Experiments…")
    button.setToolTip("Runs grouped by experiment: mean ± std over seeds, differences, sweeps")

    def open_window() -> None:
        dialog = getattr(tab, "_experiments_dialog", None)
        if dialog is None:
            dialog = ExperimentsDialog(tab.store, tab)
            dialog.view.runs_chosen.connect(tab.select_runs)
            tab._experiments_dialog = dialog
        else:
            dialog.view.refresh()
        dialog.show()
        dialog.raise_()

    button.clicked.connect(open_window)
    bar.addWidget(button)
    return button
