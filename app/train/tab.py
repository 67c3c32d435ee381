"""The Train tab: settings on the left; schedule and augmentation preview, live curves and results
on the right. A thin layer: training is `core.workflows.launch.start_training`, run as a job
(`app.train.training_job.run_training`) on the tab's `JobRunner`.

Start-up stays torch-free. After the tab is first shown, one background job detects the
devices and computes the zoo's parameter counts; the augmentation preview has its own job.
"""

from __future__ import annotations

import traceback
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence, QPaintEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.shared.jobs import JobRunner, shutdown_all
from app.shared.settings import app_settings
from app.train.data_banner import DataBanner
from app.train.form import TrainForm
from app.train.layers_dialog import LayersDialog
from app.train.plots import LivePlots
from app.train.preview import AugmentationPreview, LrPreview, planned_lr
from app.train.progress import TrainProgress
from app.train.results_view import ResultsView
from app.train.sweep_dialog import add_experiment_buttons
from app.train.training_job import Download, TrainOutcome, run_training
from core.errors import DigitLabError
from core.jobs import Job
from core.training.config import TrainConfig
from core.training.control import TrainControl
from core.training.metrics import EpochMetrics, StartInfo


def startup_facts(*, state: Job) -> None:
    """A job: torch is imported here once, early, and never on the GUI thread.

    Each fact arrives as a partial result ("devices", [...]) or ("zoo", {...}).
    """
    from core.models.zoo_info import zoo_table
    from core.training.devices import available_devices

    state.set_partial_result(("devices", available_devices()))
    if state.is_interruption_requested():
        return
    state.set_partial_result(("zoo", zoo_table()))
    if state.is_interruption_requested():
        return
    # The first optimizer pulls in ~900 modules (torch._dynamo, sympy): about a second of
    # imports, some holding the GIL for ~100 ms. Done now, while the user reads the window,
    # rather than in the first seconds of the first run, while the curves should be moving.
    import torch

    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)


def _shortcut_text(action: QAction) -> str:
    return action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)


class TrainTab(QWidget):
    run_finished = Signal(str)  # run id, whenever a run ends: completed, stopped or failed
    try_in_draw = Signal(str)  # path of an exported .onnx to open in the Draw tab
    status_message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = app_settings()
        self.training = JobRunner(self)  # the run being trained, if any
        self._control: TrainControl | None = None  # its pause and stop, while it trains
        self.facts = JobRunner(self)  # devices and zoo parameter counts, once after showing
        self._layer_dialogs: list[LayersDialog] = []
        self._run_id = ""  # the run shown in the curves and results
        self._facts_scheduled = False  # the start-up facts job: set at the first paint
        self._facts_started = False  # ... and once it started (torch work may follow)
        self._batch_size = 0
        self._config = TrainConfig()  # the run being trained (its plan, for a time budget)
        self.error_box: QMessageBox | None = None
        self._build_actions()
        self._build_ui()
        self.form.restore(self.settings)
        self._preview_timer = QTimer(self, singleShot=True, interval=120)
        self._preview_timer.timeout.connect(self._refresh_previews)
        self._facts_timer = QTimer(self, singleShot=True, interval=self.FACTS_AFTER_PAINT_MS)
        self._facts_timer.timeout.connect(self._load_facts)
        self.form.changed.connect(self._form_changed)
        self.lr_preview.set_config(self.form.config())
        self._set_state("idle")

    # --- building ---------------------------------------------------------------------------

    def _build_actions(self) -> None:
        self.start_stop_action = QAction("Start training", self)
        self.start_stop_action.setShortcut(QKeySequence("Ctrl+Return"))
        self.start_stop_action.triggered.connect(self.toggle_start_stop)
        self.pause_action = QAction("Pause training", self)
        self.pause_action.setShortcut(QKeySequence("Ctrl+P"))
        self.pause_action.triggered.connect(self.toggle_pause)
        for action in (self.start_stop_action, self.pause_action):
            self.addAction(action)  # the shortcuts work even before the menu bar holds them

    def _build_ui(self) -> None:
        outer = QVBoxLayout(self)
        self.banner = DataBanner(self.settings)
        self.banner.data_ready.connect(self._data_ready)
        self.banner.status_message.connect(self.status_message)
        outer.addWidget(self.banner)
        body = QHBoxLayout()
        outer.addLayout(body, 1)

        left = QVBoxLayout()
        self.form = TrainForm()
        self.form.layers_requested.connect(self.show_layers)
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.form)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFixedWidth(370)
        left.addWidget(scroll, 1)
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        for button in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(button)
        left.addLayout(buttons)
        add_experiment_buttons(left, self)  # "Run N seeds…" and "Sweep…": experiments
        self.progress = TrainProgress()
        left.addWidget(self.progress)
        body.addLayout(left)

        self.pages = QTabWidget(documentMode=True)
        preview = QWidget()
        preview_layout = QVBoxLayout(preview)
        self.lr_preview = LrPreview()
        preview_layout.addWidget(self.lr_preview, 1)
        self.aug_preview = AugmentationPreview()
        preview_layout.addWidget(self.aug_preview)
        self.pages.addTab(preview, "Preview")
        self.plots = LivePlots()
        self.pages.addTab(self.plots, "Live curves")
        self.results = ResultsView()
        self.results.ready.connect(self._results_ready)
        self.results.try_in_draw.connect(self.try_in_draw)
        self.results.status_message.connect(self.status_message)
        self.results.failed.connect(self._show_error)
        self.pages.addTab(self.results, "Results")
        body.addWidget(self.pages, 1)

    # The start-up facts job imports torch: seconds of imports, some holding the GIL for ~100 ms.
    # It starts once the tab has drawn itself, and a moment later: the window's first frame and
    # the start-up it measures (`digitlab --startup-time`) never share the interpreter with it.
    FACTS_AFTER_PAINT_MS = 250

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._facts_scheduled:
            self._facts_scheduled = True
            self._facts_timer.start()

    # --- public API -------------------------------------------------------------------------

    @property
    def is_training(self) -> bool:
        return self._control is not None

    @Slot()
    def toggle_start_stop(self) -> None:
        if self.is_training:
            self.stop()
        else:
            self.start()

    @Slot()
    def start(self) -> None:
        """Train the run the form describes."""
        if self.is_training:
            return
        try:
            config = self.form.config()
            # ~40 loss points per epoch: smooth live curves without a device sync every step.
            n_train = (config.train_subset or 60_000) - config.val_split
            log_every = max(1, min(20, n_train // config.batch_size // 40))
            config = config.with_overrides(data_dir=self.banner.data_dir, log_every=log_every)
            config.validate()
        except DigitLabError as error:
            self._show_error("Cannot start training", error)
            return
        self.form.save(self.settings)
        self._begin(config, None, f"Starting {config.model}…")

    @Slot(str)
    def resume_run(self, run_id: str) -> None:
        """Continue a stopped or interrupted run from its last saved epoch."""
        from core.runs.store import RunStore

        if self.is_training:
            self.status_message.emit("A run is training: stop it before resuming another.")
            return
        try:
            run = RunStore().get(run_id)
        except DigitLabError as error:
            self._show_error("Cannot resume", error)
            return
        config = TrainConfig.from_dict(run.record.config)
        self._begin(config, run.id, f"Resuming {run.record.name}…")
        self._run_id = run.id  # known before the job says so: errors can name it
        self.plots.load_history(run.steps, run.record.metrics)

    @Slot()
    def stop(self) -> None:
        if self._control is not None:
            self._control.request_stop()
            self._set_state("stopping")
            self.status_message.emit("Stopping after this batch…")

    @Slot()
    def toggle_pause(self) -> None:
        control = self._control
        if control is None or control.stop_requested:
            return
        paused = not control.paused
        if paused:
            control.pause()
        else:
            control.resume()
        self.progress.paused(paused)
        self._set_state("paused" if paused else "training")
        self.status_message.emit("Training paused." if paused else "Training resumed.")

    def shutdown(self, timeout: float = 30.0) -> bool:
        """For the window's close: stop training, cancel this tab's other jobs and wait up to
        `timeout` s in all for their threads. False if one still runs (the caller decides)."""
        self.form.save(self.settings)
        for timer in (self._facts_timer, self._preview_timer):  # no job may start after this
            timer.stop()
        training = self._control is not None
        if self._control is not None:
            self._control.request_stop()  # the trainer stops between two batches
        self.aug_preview.cancel_pending()
        runners = [self.training, self.facts, self.banner.jobs, self.aug_preview.jobs,
                   self.results.evaluation, self.results.exports,
                   *(dialog.jobs for dialog in self._layer_dialogs)]
        ended = shutdown_all(runners, timeout)
        if ended and training:
            self._training_ended()  # joined: settle now (shutdown reports no callbacks)
        return ended

    # --- training ---------------------------------------------------------------------------

    def _begin(self, config: TrainConfig, resume: str | None, text: str) -> None:
        """Train `config` (a new run), or continue run `resume` (`config` is its stored one)."""
        self._control = TrainControl()
        self._batch_size, self._run_id = config.batch_size, ""
        # A time budget's epochs are planned as it trains: its axes and schedule follow the
        # plan once measured (`_follow_budget_plan`), not config.epochs.
        self._config = config
        if config.time_budget:
            self.plots.reset(None, 0.0)
        else:
            self.plots.reset(planned_lr(config), config.epochs)
        self.plots.start_live()
        if self.results.results is None:
            self.results.clear("Training…")
        else:  # kept until this run has results of its own: a Stop must not lose them
            self.results.set_note("A new run is training; until it finishes an epoch, these are "
                                  "the results of the run before it.")
        self.progress.begin(text)
        self.training.start(run_training, None if resume else config, resume, self._control,
                            on_done=self._on_returned, on_error=self._on_errored,
                            on_progress=self._on_progress,
                            on_partial_result=self._on_partial_result,
                            on_cancelled=self._training_ended)
        self._set_state("training")
        self.pages.setCurrentWidget(self.plots)
        self.status_message.emit(text)

    def _on_partial_result(self, part: object) -> None:
        """What the trainer measured: the run's start, a batch of steps, an epoch."""
        if isinstance(part, StartInfo):
            self._on_started(part)
        elif isinstance(part, EpochMetrics):
            self._on_epoch(part)
        elif isinstance(part, list) and part:
            self.plots.add_steps(part)
            self.progress.advance(part[-1].step)
            self._follow_budget_plan()

    def _follow_budget_plan(self, final: float = 0.0) -> None:
        """Stretch the curves' axes and the dashed schedule over a time budget's planned
        epochs when the plan moves by more than 5% (never short of the steps already drawn),
        or over the `final` epochs trained once the run is over."""
        done = float(self.plots.loss.x[-1]) if self.plots.loss.n else 0.0
        planned = self.progress.planned_epochs
        plan, shown = final or (max(planned, done) if planned else 0.0), self.plots.planned_epochs
        if not plan or (not final and shown and abs(plan - shown) <= 0.05 * shown):
            return
        config = self._config
        x, lr = planned_lr(config)
        self.plots.set_plan(plan, (x * plan / max(1, config.epochs), lr))

    def _on_progress(self, progress: object) -> None:
        if isinstance(progress, Download):
            self.progress.download(progress.what, progress.done, progress.total)
        else:
            self._on_status(str(progress))

    def _on_started(self, info: StartInfo) -> None:
        self._run_id = info.run_id
        self.progress.started(info, self._batch_size)
        self.status_message.emit(f"Training {info.model} ({info.params:,} params) on "
                                 f"{info.device}.")

    def _on_epoch(self, metrics: EpochMetrics) -> None:
        self.plots.add_epoch(metrics)
        self.progress.epoch(metrics)

    def _on_status(self, text: str) -> None:
        if self.progress.info is None or self.progress.before_first_step:
            self.progress.busy(text)  # e.g. compiling: seconds before the first step
        self.status_message.emit(text)

    def _on_returned(self, outcome: TrainOutcome) -> None:
        last = outcome.history[-1] if outcome.history else None
        result = f", test accuracy {last.test_acc:.2f}%" if last else ""
        self.status_message.emit(f"Training {outcome.status} after {outcome.length}{result}.")
        self.progress.idle(f"{outcome.status.capitalize()} · {outcome.length}{result}",
                           done=outcome.status == "completed")
        if outcome.time_budget and outcome.epochs_trained:
            self._follow_budget_plan(final=outcome.epochs_trained)  # what the plan became
        if outcome.epochs_done > 0:
            self.results.show_run(outcome.run_id)
        elif self.results.results is not None:
            self.results.set_note("The last run ended before its first epoch, so it has no "
                                  "results; these are the results of the run before it.")
        else:
            self.results.clear("The run ended before its first epoch: no checkpoint to show.")
        self._training_ended()

    def _on_errored(self, error: BaseException) -> None:
        self.progress.idle("Failed")
        saved = f"\n\nRun {self._run_id} is saved as failed." if self._run_id else ""
        self._show_error("Training failed", error, saved)
        if self.results.results is not None:
            self.results.set_note("The last run failed; these are the results of the run "
                                  "before it.")
        else:
            self.results.clear("The run failed.")
        self._training_ended()

    def _training_ended(self) -> None:
        """The run's thread has ended and its outcome is shown: back to idle."""
        self._control = None
        self.plots.stop_live()
        self._set_state("idle")
        self.banner.check()  # the run may have fetched MNIST itself
        if self._run_id:
            self.run_finished.emit(self._run_id)

    def _set_state(self, state: str) -> None:
        """idle | training | paused | stopping: what may be pressed, and what it says."""
        busy = state != "idle"
        self.form.setEnabled(not busy)
        self.banner.setEnabled(not busy)
        self.start_button.setEnabled(not busy)
        self.stop_button.setEnabled(state in ("training", "paused"))
        self.pause_button.setEnabled(state in ("training", "paused"))
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.start_stop_action.setText("Stop training" if busy else "Start training")
        self.start_stop_action.setEnabled(state != "stopping")
        self.pause_action.setText("Resume training" if state == "paused" else "Pause training")
        self.pause_action.setEnabled(state in ("training", "paused"))
        start, pause = _shortcut_text(self.start_stop_action), _shortcut_text(self.pause_action)
        self.start_button.setToolTip(f"Start training ({start})")
        self.stop_button.setToolTip(f"Stop after this batch; the run can be resumed ({start})")
        self.pause_button.setToolTip(f"{self.pause_button.text()} training ({pause})")
        self.start_stop_action.setToolTip(f"{self.start_stop_action.text()} ({start})")
        self.pause_action.setToolTip(f"{self.pause_action.text()} ({pause})")

    # --- background jobs, previews, dialogs -------------------------------------------------

    @Slot()
    def _results_ready(self) -> None:
        if self.pages.currentWidget() is self.plots:
            self.pages.setCurrentWidget(self.results)

    @Slot()
    def _load_facts(self) -> None:
        self._facts_started = True
        self.facts.start(startup_facts, on_partial_result=self._fact_arrived,
                         on_error=self._facts_failed)
        self._refresh_previews()

    def _facts_failed(self, error: BaseException) -> None:
        self._show_error("Cannot inspect the model zoo", error)

    def _fact_arrived(self, fact: tuple[str, Any]) -> None:
        kind, value = fact
        if kind == "devices":
            self.form.set_devices(value)
        elif kind == "zoo":
            self.form.set_zoo_info(value)

    @Slot()
    def _form_changed(self) -> None:
        self._preview_timer.start()  # restarts: one refresh after the edits settle

    @Slot()
    def _refresh_previews(self) -> None:
        config = self.form.config()
        self.lr_preview.set_config(config)
        self.form.save(self.settings)
        if self._facts_started:  # torch work waits for the start-up facts (after the paint)
            self.aug_preview.request(self.banner.folder, config.augment, config.augment_stroke,
                                     config.augment_aspect)

    @Slot(str)
    def _data_ready(self, folder: str) -> None:
        self._refresh_previews()

    @Slot(str)
    def show_layers(self, model: str) -> None:
        # Closed dialogs whose table has been built can go; the others are joined on shutdown.
        for old in [d for d in self._layer_dialogs if not d.isVisible() and not d.jobs.busy]:
            self._layer_dialogs.remove(old)
            old.deleteLater()
        dialog = LayersDialog(model, self)
        self._layer_dialogs.append(dialog)
        dialog.open()

    @Slot(str, object)
    def _show_error(self, title: str, error: BaseException, extra: str = "") -> None:
        """User-fixable errors say what to do; anything else is a bug, with its traceback."""
        known = isinstance(error, DigitLabError)
        text = str(error) if known else f"Unexpected error: {type(error).__name__}: {error}"
        box = QMessageBox(QMessageBox.Icon.Critical, title, text + extra,
                          QMessageBox.StandardButton.Ok, self)
        box.setTextFormat(Qt.TextFormat.PlainText)  # errors quote file and run names
        if not known:
            box.setDetailedText("".join(traceback.format_exception(error)))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.error_box = box
        box.open()  # window-modal, not a nested event loop: the tab goes idle meanwhile
