"""Experiments in the Compare tab: trials grouped by recipe, their spread over seeds, verdicts,
curves as mean ± std bands over seeds, a swept setting plotted against the objective, a sweep's
parallel coordinates and setting importance, the Markdown report (with its PNGs) and the trials
as CSV/JSON; an experiment can be deleted here too.

Everything shown is computed by core/experiments/ (statistics, curves, insight, export) from the
run store; this view only lays it out. "Select runs" selects the experiment's runs in the
Compare table, so their curves overlay there.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.compare.seed_bands import BandPlots, style_plot
from app.compare.sweep_insight import SweepInsight
from app.shared.dialogs import MARKDOWN, MARKDOWN_FILTER, save_file, show_error
from app.shared.jobs import JobRunner, shutdown_all
from app.shared.style import BAD_COLOR, OK_COLOR, series_color
from app.shared.wording import plural
from core.errors import DigitLabError
from core.experiments.curves import experiment_curves
from core.experiments.insight import sweep_trials, swept_settings
from core.experiments.statistics import (
    METRIC_NAMES,
    decision_metric,
    differences,
    group_stats,
    sweep_points,
)
from core.experiments.storage import ExperimentStore
from core.runs.store import RunStore

TRIALS_FILTER = "CSV, one row per trial and epoch (*.csv);;JSON, per trial (*.json)"
TRIALS = "trials"  # the export dialog's own remembered folder
_COLUMNS = ("Recipe", "Seeds done", "Final test (mean ± std)", "Min", "Max",
            "Final val. (mean ± std)", "Consistent ≥99.4%")


class ExperimentsView(QWidget):
    runs_chosen = Signal(list)  # run ids of the shown experiment's trials
    deleted = Signal(str)  # an experiment (and its trial runs) was deleted

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
        self.export_button.setToolTip("The report, with its figures as PNGs beside it")
        self.export_button.clicked.connect(self._export)
        self.trials_button = QPushButton("Export trials…")
        self.trials_button.setToolTip("Every trial's config, seed and per-epoch figures, as CSV "
                                      "(one row per trial and epoch) or JSON, for pandas")
        self.trials_button.clicked.connect(self._export_trials)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Delete the experiment and its trial runs")
        self.delete_button.clicked.connect(self._delete)
        top = QHBoxLayout()
        top.addWidget(QLabel("Experiment"))
        top.addWidget(self.experiment_box, 1)
        top.addWidget(refresh)
        top.addWidget(self.select_button)
        top.addWidget(self.export_button)
        top.addWidget(self.trials_button)
        top.addWidget(self.delete_button)

        self.about_label = QLabel(textFormat=Qt.TextFormat.PlainText, wordWrap=True)
        self.groups = QTableWidget(0, len(_COLUMNS))
        self.groups.setHorizontalHeaderLabels(list(_COLUMNS))
        header = self.groups.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.groups.verticalHeader().hide()
        self.groups.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.groups.setMinimumHeight(150)  # a few recipes stay in view whatever page is shown
        self.verdict_label = QLabel(textFormat=Qt.TextFormat.PlainText, wordWrap=True)

        self.setting_box = QComboBox()
        self.setting_box.currentTextChanged.connect(self._plot)
        self.plot = pg.PlotWidget()
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setMinimumHeight(220)
        for name in ("left", "bottom"):  # settings and accuracies as they are, never "x0.001"
            self.plot.getAxis(name).enableAutoSIPrefix(False)
        style_plot(self.plot, self)
        self.setting_label = QLabel("Swept setting")
        plot_row = QHBoxLayout()
        plot_row.addWidget(self.setting_label)
        plot_row.addWidget(self.setting_box)
        plot_row.addStretch(1)
        setting_page = QWidget()
        setting_layout = QVBoxLayout(setting_page)
        setting_layout.addLayout(plot_row)
        setting_layout.addWidget(self.plot, 1)

        self.bands = BandPlots()
        self.insight = SweepInsight()
        self.pages = QTabWidget()
        self.pages.addTab(self.bands, "Curves over seeds")
        self.pages.addTab(setting_page, "Final figures")
        self.pages.addTab(self.insight, "Sweep: trials and importance")

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.about_label)
        layout.addWidget(self.groups, 1)
        layout.addWidget(self.verdict_label)
        layout.addWidget(self.pages, 2)
        self.jobs = JobRunner(self)  # the Markdown export
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
        self.setting_box.blockSignals(True)
        self.setting_box.clear()
        self.setting_box.blockSignals(False)
        self._reset_plot()
        self.bands.set_curves([], [])
        self.insight.clear()
        self.verdict_label.clear()
        for button in (self.select_button, self.export_button, self.trials_button,
                       self.delete_button):
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
        groups = group_stats(spec, states)
        # Choices need a validation split: without one the figures are test accuracy, only
        # reported (statistics.decision_metric); before any trial finished, the base says.
        validated = (decision_metric(groups, spec.objective) == spec.objective
                     if any(g.finished for g in groups) else bool(spec.base.get("val_split")))
        choice = (f"choices on {METRIC_NAMES[spec.objective]}" if validated else
                  "no validation split: test figures, reported only, nothing chosen")
        self.about_label.setText(
            f"{spec.description or spec.name}: {plural(len(states), 'trial')}, {finished} "
            f"finished; seeds {', '.join(map(str, spec.seeds))}; {choice}.")
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
        self.bands.set_curves(experiment_curves(states),
                              [s.run for s in states if s.run is not None])
        metric = decision_metric(groups, spec.objective)
        if len(swept_settings(spec)) >= 2:
            self.insight.show_sweep(spec, sweep_trials(spec, states, metric), metric)
        else:
            self.insight.clear("Parallel coordinates and setting importance are for sweeps over "
                               "two or more settings; this experiment varies "
                               f"{len(swept_settings(spec)) or 'none'}.")
        self.pages.setTabEnabled(2, len(swept_settings(spec)) >= 2)
        searched = list(spec.search.space)
        self.setting_label.setVisible(bool(searched))
        self.setting_box.setVisible(bool(searched))
        self.setting_box.addItems(searched)  # plots the first
        if not searched:
            self._plot_groups(groups, metric)

    def _verdicts(self, groups: list[Any], objective: str) -> str:
        lines = differences(groups, objective)
        return "\n".join(lines[:1] + [f"• {line}" for line in lines[1:]])

    def _reset_plot(self, left: str = "", bottom: str = "",
                    ticks: list[tuple[float, str]] | None = None) -> None:
        """Clear the final-figures plot and everything the last experiment set on it: labels,
        category ticks, view range (a new experiment never inherits another's axis)."""
        self.plot.clear()
        self.plot.setLabel("left", left)
        self.plot.setLabel("bottom", bottom)
        self.plot.getAxis("bottom").setTicks([ticks] if ticks is not None else None)
        self.plot.enableAutoRange()

    @Slot(str)
    def _plot(self, setting: str) -> None:
        if not setting or self._spec is None:
            self._reset_plot()
            return
        groups = group_stats(self._spec, self._states)
        metric = decision_metric(groups, self._spec.objective)
        points = sweep_points(self._spec, self._states, setting)
        numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x, _ in points)
        values = sorted({x for x, _ in points}, key=str) if not numeric else []
        xs = [float(x) if numeric else values.index(x) for x, _ in points]
        ys = [y for _, y in points]
        # Categories: one slot each, named on the axis; numbers: the axis's own ticks.
        self._reset_plot(f"final {METRIC_NAMES[metric]}", setting,
                         None if numeric else list(enumerate(map(str, values))))
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
        self._reset_plot(f"final {METRIC_NAMES[metric]}", "recipe",
                         [(i, g.label) for i, g in enumerate(groups)])
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
        """The report and its PNGs, written in a job: drawing them imports matplotlib and
        ranks a sweep's settings with Optuna, seconds the window must not freeze for."""
        if self._spec is None:
            return
        path = save_file(self, "Save the experiment report", MARKDOWN_FILTER, MARKDOWN,
                         f"{self._spec.name}.md")
        if path is None:
            return
        from core.experiments.report_figures import write_report

        self.export_button.setEnabled(False)
        self.export_button.setText("Exporting…")
        self.jobs.start(write_report, self._spec, self._states,
                        self.store.sessions(self._spec.name), path,
                        on_done=lambda _: self._exported(), on_error=self._export_failed,
                        on_cancelled=self._exported)

    def _exported(self) -> None:
        self.export_button.setText("Export Markdown…")
        self.export_button.setEnabled(self._spec is not None)

    def _export_failed(self, error: BaseException) -> None:
        self._exported()
        show_error(self, "Cannot save the report", str(error))

    @Slot()
    def _export_trials(self) -> None:
        if self._spec is None:
            return
        path = save_file(self, "Export the trials", TRIALS_FILTER, TRIALS,
                         f"{self._spec.name}.csv")
        if path is None:
            return
        from core.experiments.export import export_trials

        try:
            export_trials(self._spec, self._states, path)
        except (DigitLabError, OSError) as error:
            show_error(self, "Cannot export the trials", str(error))

    @Slot()
    def _delete(self) -> None:
        name = self.experiment_box.currentText()
        if not name:
            return
        runs = sum(1 for s in self._states if s.run is not None)
        box = QMessageBox(QMessageBox.Icon.Question, "Delete experiment",
                          f"Delete experiment {name} and its {plural(runs, 'trial run')}, with "
                          f"{'its' if runs == 1 else 'their'} checkpoints? This cannot be "
                          f"undone.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                          self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        if box.exec() != QMessageBox.StandardButton.Yes:
            return
        try:
            self.store.delete(name)
        except (DigitLabError, OSError) as error:
            show_error(self, "Cannot delete the experiment", str(error))
            return
        self.refresh()
        self.deleted.emit(name)

    def shutdown(self, timeout: float = 5.0) -> bool:
        return shutdown_all([self.insight.jobs, self.jobs], timeout)


class ExperimentsDialog(QDialog):
    def __init__(self, store: RunStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Experiments")
        self.view = ExperimentsView(ExperimentStore(store), self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view)
        layout.addWidget(buttons)
        self.resize(1100, 860)


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
            dialog.view.deleted.connect(lambda _: tab.refresh())  # its trial runs are gone
            tab._experiments_dialog = dialog
        else:
            dialog.view.refresh()
        dialog.show()
        dialog.raise_()

    button.clicked.connect(open_window)
    bar.addWidget(button)
    return button
