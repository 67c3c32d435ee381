"""A training run as a background job: `run_training` is the work function the Train tab starts
on its `JobRunner`; `JobReporter` turns the trainer's `Reporter` calls into the job's progress.

What crosses to the GUI thread (all plain data):
- progress: a status line (`str`) or a `Download`;
- partial results: `StartInfo` once, `list[StepMetrics]` batches, one `EpochMetrics` per epoch;
- the result: a `TrainOutcome`.
Step metrics are coalesced so that at most ~30 batches a second reach the event loop.
Pause and stop go through the `TrainControl` the tab keeps; the trainer checks it between batches.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from app.shared.wording import plural
from core.jobs import Job
from core.training.config import TrainConfig
from core.training.control import Reporter, TrainControl
from core.training.metrics import EpochMetrics, StartInfo, StepMetrics

STEP_FLUSH_S = 1 / 30  # at most ~30 step batches a second cross to the GUI
DOWNLOAD_EVERY_S = 0.1  # download progress at most ten times a second


@dataclass(frozen=True)
class Download:
    what: str  # file name
    done: int  # bytes so far
    total: int  # bytes in all; 0 = unknown


@dataclass(frozen=True)
class TrainOutcome:
    """What the GUI keeps of a finished run (the torch model stays in the job's thread)."""

    run_id: str
    status: str  # "completed" | "stopped"
    epochs_done: int  # passes over the training images begun and ended (a cut-short one too)
    history: tuple[EpochMetrics, ...]
    epochs_trained: float = 0.0  # fractional: a time budget's last pass is cut short
    time_budget: float = 0.0  # seconds, when the run trained to a time budget

    @property
    def length(self) -> str:
        """'3 epochs', or '1.26 epochs in a 60 s time budget'."""
        if self.time_budget:
            return f"{self.epochs_trained:.2f} epochs in a {self.time_budget:g} s time budget"
        return plural(self.epochs_done, "epoch")


class JobReporter(Reporter):
    """The trainer's reporter inside a job: calls become the job's progress and partial results."""

    def __init__(self, state: Job) -> None:
        self.state = state
        self.run_id = ""
        self._pending: list[StepMetrics] = []
        self._last_flush = 0.0
        self._last_download = 0.0
        self.last_epoch = 0.0  # the fractional epoch of the last step reported

    def status(self, text: str) -> None:
        self.state.set_progress(text)

    def download(self, what: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - self._last_download >= DOWNLOAD_EVERY_S:
            self._last_download = now
            self.state.set_progress(Download(what, done, total))

    def started(self, info: StartInfo) -> None:
        self.run_id = info.run_id
        self.state.set_partial_result(info)

    def step(self, metrics: StepMetrics) -> None:
        self._pending.append(metrics)
        self.last_epoch = metrics.epoch
        if time.monotonic() - self._last_flush >= STEP_FLUSH_S:
            self.flush()

    def epoch(self, metrics: EpochMetrics) -> None:
        self.flush()
        self.state.set_partial_result(metrics)

    def flush(self) -> None:
        if self._pending:
            self.state.set_partial_result(self._pending)
            self._pending = []
        self._last_flush = time.monotonic()


def run_training(config: TrainConfig | None, resume: str | None, control: TrainControl, *,
                 state: Job) -> TrainOutcome:
    """Train a new run (`config`) or continue a stored one (`resume`, its run id).

    Runs in a job thread: `core.workflows.launch.start_training` imports torch there. Errors it
    raises (a GPU out of memory included) are already the user-facing kind.
    """
    from core.workflows.launch import start_training

    reporter = JobReporter(state)
    try:
        result = start_training(config or TrainConfig(), reporter, control, resume=resume)
    finally:
        reporter.flush()
    budget = config.time_budget if config is not None else 0.0  # a budget run never resumes
    return TrainOutcome(reporter.run_id, result.status, result.epochs_done,
                        tuple(result.history), epochs_trained=reporter.last_epoch,
                        time_budget=budget)
