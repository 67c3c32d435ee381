"""Run the Train form's recipe over several seeds, or sweep settings: an experiment from the GUI.

The dialog turns what the form shows into an experiment (core/experiments): the form's settings
are the base of every trial, the sweep rows a grid (each row a setting and the values to try),
crossed with seeds 0..N-1. It runs through the one job helper (app/shared/jobs.py) on this
machine, one trial after another; Stop ends the running trial between batches, and Start with the
same name later resumes what is left. Each trial is an ordinary run, in the Compare tab at once;
its Experiments view has the statistics, the plot and the Markdown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import datetime
from functools import partial
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.shared.dialogs import plain_tooltip, show_error
from app.shared.jobs import JobRunner
from app.shared.style import BAD_COLOR
from app.shared.wording import plural
from app.train.progress import recipe_summary
from core.errors import ConfigError, DigitLabError
from core.experiments.spec import ExperimentSpec, SearchSpec, settable_fields
from core.experiments.statistics import differences, group_stats
from core.experiments.storage import ExperimentStore
from core.text import percent
from core.training.config import TrainConfig

_COLUMNS = ("Trial", "Recipe", "Seed", "Status", "Epoch", "Val. acc.", "Test acc.")
MAX_SEEDS = 20
VAL_SHARE = 6  # a sweep holds out 1/6 of the training images: MNIST's 10,000 of 60,000
_names_given: set[str] = set()  # default names handed to dialogs of this session, not yet saved


def default_val_split(config: TrainConfig, sweep: bool) -> int:
    """The form's split, else for a sweep a sixth of the training images (10,000 of all
    60,000; rounded down to hundreds) so that a subset always keeps most images for training."""
    if config.val_split or not sweep:
        return config.val_split
    if not config.train_subset:
        return 60_000 // VAL_SHARE
    share = config.train_subset // VAL_SHARE
    return share // 100 * 100 or max(share, 1)


def fresh_name(store: ExperimentStore, model: str, now: datetime | None = None) -> str:
    """`model-MMDD-HHMMSS`, with -2, -3... if the store or another open dialog has it."""
    base = f"{model}-{(now or datetime.now()):%m%d-%H%M%S}"
    taken = set(store.names()) | _names_given
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    _names_given.add(name)
    return name


def base_settings(config: TrainConfig) -> dict[str, Any]:
    """Every setting of the form's run an experiment may set (all of it but seed and data)."""
    settable = settable_fields()
    return {f.name: getattr(config, f.name) for f in fields(config) if f.name in settable}


class SweepDialog(QDialog):
    """Seeds × a grid of settings, from the Train form's recipe. `sweep=False` opens it for
    "Run N seeds" (no sweep row)."""

    def __init__(self, config: TrainConfig, *, seeds: int = 3, sweep: bool = True,
                 data_dir: str = "", store: ExperimentStore | None = None,
                 is_training: Callable[[], bool] = lambda: False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sweep settings" if sweep else "Run several seeds")
        self.config, self.data_dir = config, data_dir
        self.store = store or ExperimentStore()
        self.is_training = is_training
        self.jobs = JobRunner(self)
        self.outcome: Any = None
        self._rows: dict[str, int] = {}

        self.name_edit = QLineEdit(fresh_name(self.store, config.model))
        self.seeds_box = QSpinBox(minimum=1, maximum=MAX_SEEDS, value=seeds)
        self.val_box = QSpinBox(minimum=0, maximum=30000, singleStep=1000,
                                value=default_val_split(config, sweep))
        self.val_box.setToolTip("Training images held out to choose on (taken from the "
                                f"{_training_images(config)}). The test set is reported, never "
                                "used to choose.")
        form = QFormLayout()
        form.addRow("Experiment name", self.name_edit)
        form.addRow("Seeds (0 … N−1)", self.seeds_box)
        form.addRow("Validation split", self.val_box)

        self.sweep_table = QTableWidget(0, 2)
        self.sweep_table.setHorizontalHeaderLabels(["Setting", "Values (comma-separated)"])
        self.sweep_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.sweep_table.setColumnWidth(0, 180)
        self.sweep_table.verticalHeader().hide()
        self.sweep_table.setMaximumHeight(130)
        self.add_button, self.remove_button = QPushButton("Add setting"), QPushButton("Remove")
        self.add_button.clicked.connect(lambda: self.add_sweep_row())
        self.remove_button.clicked.connect(self._remove_row)
        sweep_buttons = QHBoxLayout()
        sweep_buttons.addWidget(self.add_button)
        sweep_buttons.addWidget(self.remove_button)
        sweep_buttons.addStretch(1)

        self.count_label = QLabel(textFormat=Qt.TextFormat.PlainText, wordWrap=True)
        self.start_button = QPushButton("Start", default=True)
        self.stop_button = QPushButton("Stop", enabled=False)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.progress = QProgressBar(format="%v of %m trials")
        self.status_label = QLabel(textFormat=Qt.TextFormat.PlainText)
        self.trials = QTableWidget(0, len(_COLUMNS))
        self.trials.setHorizontalHeaderLabels(list(_COLUMNS))
        self.trials.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.trials.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.trials.verticalHeader().hide()
        self.trials.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.trials.cellDoubleClicked.connect(self._show_reason)
        # Failed trials' reasons, wrapped under the table: the Status column stays narrow.
        self.failure_label = QLabel(textFormat=Qt.TextFormat.PlainText, wordWrap=True)
        self.failure_label.setStyleSheet(f"color: {BAD_COLOR}")
        self.failure_label.hide()
        self.result_label = QLabel(textFormat=Qt.TextFormat.PlainText, wordWrap=True)
        self._failures: dict[str, str] = {}

        run_row = QHBoxLayout()
        run_row.addWidget(self.count_label, 1)
        run_row.addWidget(self.start_button)
        run_row.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        recipe = QLabel(f"Recipe: the Train form's ({recipe_summary(config)}).",
                        textFormat=Qt.TextFormat.PlainText, wordWrap=True)
        layout.addWidget(recipe)
        layout.addLayout(form)
        layout.addWidget(QLabel("Sweep (every combination of the values below, per seed):"))
        layout.addWidget(self.sweep_table)
        layout.addLayout(sweep_buttons)
        layout.addLayout(run_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        layout.addWidget(self.trials, 1)
        layout.addWidget(self.failure_label)
        layout.addWidget(self.result_label)
        close_row = QHBoxLayout()
        close_row.addStretch(1)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        close_row.addWidget(self.close_button)
        layout.addLayout(close_row)
        self.resize(720, 640)

        self.seeds_box.valueChanged.connect(self._update_count)
        self.val_box.valueChanged.connect(self._update_count)
        self.name_edit.textChanged.connect(self._update_count)
        if sweep:
            self.add_sweep_row("augment", "0.3, 1.0")
        self._update_count()

    # --- the definition ----------------------------------------------------------------------

    def add_sweep_row(self, setting: str = "lr", values: str = "") -> None:
        row = self.sweep_table.rowCount()
        self.sweep_table.insertRow(row)
        box = QComboBox()
        box.addItems(sorted(settable_fields()))
        box.setCurrentText(setting)
        box.currentTextChanged.connect(self._update_count)
        self.sweep_table.setCellWidget(row, 0, box)
        edit = QLineEdit(values, placeholderText="e.g. 0.01, 0.02")
        edit.textChanged.connect(self._update_count)
        self.sweep_table.setCellWidget(row, 1, edit)
        self._update_count()

    @Slot()
    def _remove_row(self) -> None:
        row = self.sweep_table.currentRow()
        self.sweep_table.removeRow(row if row >= 0 else self.sweep_table.rowCount() - 1)
        self._update_count()

    def spec(self) -> ExperimentSpec:
        """The experiment the dialog describes; ConfigError saying what is wrong."""
        space: dict[str, list[Any]] = {}
        for row in range(self.sweep_table.rowCount()):
            setting = self.sweep_table.cellWidget(row, 0).currentText()  # type: ignore[union-attr]
            text = self.sweep_table.cellWidget(row, 1).text()  # type: ignore[union-attr]
            values = [v.strip() for v in text.split(",") if v.strip()]
            if values:
                space[setting] = values
        base = {**base_settings(self.config), "val_split": self.val_box.value()}
        spec = ExperimentSpec(name=self.name_edit.text().strip(), model=self.config.model,
                              seeds=list(range(self.seeds_box.value())), base=base,
                              search=SearchSpec("grid", space))
        spec.validate()
        return spec

    def checked_spec(self) -> tuple[ExperimentSpec, str]:
        """The experiment, checked as the runner will check it, and a note on its name.

        ConfigError for anything that would stop it: the definition, every trial's TrainConfig
        (a validation split as large as the training images included), or a name already taken
        by another definition. Torch-free: each trial's settings are the form's config with the
        trial's overrides, validated as the runner validates them.
        """
        spec = self.spec()
        self.config.with_overrides(**{**spec.base, "model": spec.model}).validate()  # all trials
        for point in spec.grid_points():
            overrides = spec.overrides(point, spec.seeds[0])  # seeds: checked by validate()
            try:
                self.config.with_overrides(**overrides).validate()
            except ConfigError as error:
                where = f"Trial {point.label}: " if len(spec.grid_points()) > 1 else ""
                raise ConfigError(f"{where}{error}") from None
        if not self.store.exists(spec.name):
            if spec.name in self.store.names():  # a folder without a readable definition
                raise ConfigError(f"A damaged experiment is named '{spec.name}': choose another "
                                  f"name, or delete it (Compare tab → Experiments…).")
            return spec, ""
        try:
            same = self.store.load(spec.name).to_dict() == spec.to_dict()
        except DigitLabError:
            same = False
        if not same:
            raise ConfigError(f"An experiment named '{spec.name}' already exists with other "
                              f"settings: choose another name, or delete it (Compare tab → "
                              f"Experiments…).")
        return spec, f"'{spec.name}' exists with these settings: Start resumes its unfinished " \
                     "trials. "

    @Slot()
    def _update_count(self) -> None:
        try:
            spec, note = self.checked_spec()
        except DigitLabError as error:
            self.count_label.setText(str(error))
            self.count_label.setStyleSheet(f"color: {BAD_COLOR}")
            self.start_button.setEnabled(False)
            return
        points = len(spec.grid_points())
        self.count_label.setStyleSheet("")
        self.count_label.setText(f"{note}{plural(points * len(spec.seeds), 'trial')} "
                                 f"({plural(points, 'setting')} × "
                                 f"{plural(len(spec.seeds), 'seed')})")
        self.start_button.setEnabled(not self.jobs.busy)

    # --- running -----------------------------------------------------------------------------

    @Slot()
    def start(self) -> None:
        from core.experiments.local import LocalExecutor
        from core.experiments.runner import run_experiment_job

        if self.is_training():
            show_error(self, "Cannot start", "A run is training in the Train tab: stop it first "
                                             "(two trainings at once would slow both).")
            return
        try:
            spec, _ = self.checked_spec()
            self.store.save(spec)  # refuses a changed definition under an existing name
        except DigitLabError as error:
            show_error(self, "Cannot start the experiment", str(error))
            return
        self._fill_trials(spec)
        self._set_running(True)
        job = partial(run_experiment_job, store=self.store, data_dir=self.data_dir)
        self.jobs.start(job, spec, LocalExecutor(self.store.runs), on_done=self._done,
                        on_error=self._failed, on_progress=self._progress,
                        on_partial_result=self._partial, on_cancelled=self._cancelled)

    @Slot()
    def stop(self) -> None:
        self.status_label.setText("Stopping after the current batch…")
        self.jobs.cancel()

    def _fill_trials(self, spec: ExperimentSpec) -> None:
        states = self.store.states(spec.name, spec.grid_points(), spec.seeds)
        self.trials.setRowCount(len(states))
        self._rows, self._failures = {}, {}
        for row, state in enumerate(states):
            self._rows[state.trial.key] = row
            last = state.run.history[-1] if state.run is not None and state.run.history else {}
            self._set_row(row, [state.trial.key, state.trial.point.label, str(state.trial.seed),
                                state.status, str(len(state.run.history) if state.run else 0),
                                percent(last.get("val_acc")), percent(last.get("test_acc"))])
            if state.status == "failed" and state.run is not None:
                self._set_failure(state.trial.key, state.run.error)
        self._show_failures()
        self.progress.setRange(0, len(states))
        self.progress.setValue(sum(1 for s in states if s.finished))

    def _set_row(self, row: int, cells: list[str]) -> None:
        for column, text in enumerate(cells):
            self.trials.setItem(row, column, QTableWidgetItem(text))

    def _set_cell(self, key: str, column: int, text: str) -> None:
        row = self._rows.get(key)
        if row is not None:
            self.trials.setItem(row, column, QTableWidgetItem(text))

    def _partial(self, part: tuple[str, str, Any]) -> None:
        kind, key, value = part
        if kind == "started":
            self._set_cell(key, 3, "running")
        elif kind == "epoch":
            self._set_cell(key, 4, str(value.epoch))
            self._set_cell(key, 5, percent(value.val_acc))
            self._set_cell(key, 6, percent(value.test_acc))
        elif kind == "finished":
            self._set_cell(key, 3, value.status)
            if value.status == "failed":
                self._set_failure(key, value.error)
                self._show_failures()
            self.progress.setValue(self.progress.value() + (value.status == "completed"))

    def _set_failure(self, key: str, reason: str) -> None:
        """The reason in the Status cell's tooltip (the cell says 'failed')."""
        self._failures[key] = reason or "no reason recorded"
        row = self._rows.get(key)
        item = self.trials.item(row, 3) if row is not None else None
        if item is not None:
            item.setToolTip(plain_tooltip(self._failures[key]))

    def _show_failures(self) -> None:
        """Under the table, wrapped: how many failed and why (each distinct reason once)."""
        if not self._failures:
            self.failure_label.hide()
            return
        reasons: dict[str, list[str]] = {}
        for key, reason in self._failures.items():
            reasons.setdefault(reason, []).append(key)
        lines = [f"{plural(len(self._failures), 'trial')} failed. Double-click a row for its "
                 f"reason."]
        for reason, keys in list(reasons.items())[:3]:
            lines.append(f"{', '.join(keys[:4])}{' …' * (len(keys) > 4)}: {reason}")
        self.failure_label.setText("\n".join(lines))
        self.failure_label.show()

    @Slot(int, int)
    def _show_reason(self, row: int, _column: int) -> None:
        key_item = self.trials.item(row, 0)
        reason = self._failures.get(key_item.text()) if key_item is not None else None
        if reason:
            show_error(self, f"Trial {key_item.text()} failed", reason)  # type: ignore[union-attr]

    def _progress(self, text: object) -> None:
        self.status_label.setText(str(text))

    def _done(self, outcome: Any) -> None:
        self.outcome = outcome
        self._set_running(False)
        spec = self.store.load(outcome.name)
        groups = group_stats(spec, outcome.states)
        lines = []
        for g in groups:
            test = f"test {g.test.text()}% (min {g.test.low:.2f}, max {g.test.high:.2f})" \
                if g.test else "no finished seed"
            val = f", val {g.val.text()}%" if g.val else ""
            lines.append(f"{g.label}: {test}{val}; consistent ≥99.4%: {g.consistent}/{g.trials}")
        lines += differences(groups, spec.objective)[1:]
        lines.append("Compare tab → Experiments: plot, verdicts and Markdown.")
        self.result_label.setText("\n".join(lines))
        self.status_label.setText(f"Finished: {outcome.finished} of {len(outcome.states)} "
                                  f"trials done ({outcome.wall_s:.0f} s).")

    def _failed(self, error: BaseException) -> None:
        self._set_running(False)
        self.status_label.setText("The experiment stopped on an error.")
        show_error(self, "Experiment failed", str(error))

    def _cancelled(self) -> None:
        self._set_running(False)
        self.status_label.setText("Stopped. Start again with the same name to resume.")

    def _set_running(self, running: bool) -> None:
        self.stop_button.setEnabled(running)
        for widget in (self.name_edit, self.seeds_box, self.val_box,
                       self.sweep_table, self.add_button, self.remove_button):
            widget.setEnabled(not running)
        if running:
            self.start_button.setEnabled(False)
        else:
            self._update_count()  # Start only if the (maybe now existing) experiment can run

    def done(self, result: int) -> None:  # closing: stop the job, wait for its thread
        if self.jobs.busy:
            self.jobs.shutdown(timeout=30.0)
        super().done(result)


def _training_images(config: TrainConfig) -> str:
    return (f"{config.train_subset:,} training images" if config.train_subset
            else "60,000 MNIST training images")


def add_experiment_buttons(layout: QHBoxLayout | QVBoxLayout, tab: Any) -> None:
    """"Run N seeds…" and "Sweep…" under the Train tab's Start button. They open the dialog on
    the form's current recipe (`tab.form.config()`, the data folder of `tab.banner`)."""
    row = QHBoxLayout()
    for text, sweep, tip in (("Run N seeds…", False, "Train the form's recipe with several "
                                                     "seeds: mean ± std, min, max"),
                             ("Sweep…", True, "Try settings (a grid) × seeds, choose on the "
                                              "validation split")):
        button = QPushButton(text)
        button.setToolTip(tip)
        button.clicked.connect(lambda _=False, s=sweep: _open(tab, s))
        row.addWidget(button)
    layout.addLayout(row)


def _open(tab: Any, sweep: bool) -> None:
    try:
        config = tab.form.config()
    except DigitLabError as error:
        show_error(tab, "Cannot open", str(error))
        return
    dialog = SweepDialog(config, seeds=3, sweep=sweep, data_dir=tab.banner.data_dir,
                         is_training=lambda: tab.is_training, parent=tab)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()

