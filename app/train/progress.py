"""Progress of the running job in words: epoch, percent, time left, throughput, device."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from app.shared.wording import plural
from core.training.budget import estimate_reserve
from core.training.config import TrainConfig
from core.training.metrics import EpochMetrics, StartInfo

TEXT_EVERY_S = 0.5  # the ETA text changes at most twice a second: calmer to read


def training_length(config: TrainConfig) -> str:
    """'15 epochs', or 'a 60 s time budget' (which replaces the epoch count)."""
    if config.time_budget:
        return f"a {config.time_budget:g} s time budget"
    return plural(config.epochs, "epoch")


def recipe_summary(config: TrainConfig) -> str:
    """One line of what a run of `config` trains: model, length, batch, optimizer, data."""
    data = f", {config.train_subset:,} training images" if config.train_subset else ""
    val = f", {config.val_split:,} held out for validation" if config.val_split else ""
    return (f"{config.model}, {training_length(config)}, batch {config.batch_size}, "
            f"{config.optimizer} lr {config.lr:g}{data}{val}")


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 60}:{seconds % 60:02d}"


class TrainProgress(QWidget):
    """A progress bar over all optimizer steps of the run, with ETA and samples/s under it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.headline = QLabel()  # above the bar: text inside it is hard to read on the chunk
        layout.addWidget(self.headline)
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(8)
        layout.addWidget(self.bar)
        self.details = QLabel()
        self.details.setStyleSheet("color: gray")
        layout.addWidget(self.details)
        self.device = QLabel()
        self.device.setWordWrap(True)
        self.device.setStyleSheet("color: gray")
        layout.addWidget(self.device)
        for label in (self.headline, self.details, self.device):
            label.setTextFormat(Qt.TextFormat.PlainText)  # run and model names come from files
        self.idle("Ready")

    def idle(self, text: str, done: bool = False) -> None:
        self.info: StartInfo | None = None
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if done else 0)
        self.headline.setText(text)
        self.details.setText("")
        self._t0 = self._step0 = None
        self._paused_s, self._paused_at, self._last_text = 0.0, None, 0.0
        self.batch_size = 0
        self.step = 0
        self._steps_range = (0, 1)  # the bar's range once steps count (see `busy`)
        self._begun_at: float | None = None  # when the run was asked for (`begin`)
        self.planned_epochs = 0.0  # a time budget's plan as measured so far (0: not yet)

    def begin(self, text: str) -> None:
        """A run is being started: busy with `text`; a time budget counts from now."""
        self.idle(text)
        self.busy(text)
        self._begun_at = time.monotonic()

    def busy(self, text: str) -> None:
        """Indeterminate, with what is happening: loading data, compiling before the first
        step, fetching without a known size. The next step restores the bar."""
        self.bar.setRange(0, 0)
        self.headline.setText(text)

    @property
    def before_first_step(self) -> bool:
        """Started, but no step reported yet (data on the device, compiling)."""
        return self.info is not None and self._t0 is None

    def download(self, what: str, done: int, total: int) -> None:
        if total:
            self.bar.setRange(0, total)
            self.bar.setValue(done)
        self.headline.setText(f"Downloading {what}: {done / 1e6:.1f} MB")

    def started(self, info: StartInfo, batch_size: int) -> None:
        self.info, self.batch_size = info, batch_size
        if info.time_budget:  # the steps are planned as it goes: show the time instead
            # The Train tab's budget counts from the start of training: the click, not now.
            self._budget_started = self._begun_at or time.monotonic()
            self._steps_range = (0, round(info.time_budget * 10))
            self.bar.setRange(*self._steps_range)
            self.bar.setValue(0)
            self.headline.setText(f"Training to a time budget of {info.time_budget:g} s")
            self.device.setText(f"{info.model} · {info.params:,} params · {info.device}")
            return
        self._steps_range = (0, info.epochs * info.steps_per_epoch)
        self.bar.setRange(*self._steps_range)
        self.bar.setValue(info.start_epoch * info.steps_per_epoch)
        self.headline.setText(f"Epoch {info.start_epoch + 1} of {info.epochs}")
        self.device.setText(f"{info.model} · {info.params:,} params · {info.device}")

    def advance(self, step: int) -> None:
        """The trainer reported up to optimizer step `step` (since the start of the run)."""
        info, now = self.info, time.monotonic()
        if info is None:
            return
        self.step = step
        first = self._t0 is None
        if first:  # the first step: whatever ran before it (compiling) is over
            self._t0, self._step0 = now, step
            self.bar.setRange(*self._steps_range)
            self._last_text = 0.0
        if info.time_budget:
            self._advance_in_time(info, step, now)
            return
        self.bar.setValue(step)
        if now - self._last_text < TEXT_EVERY_S:
            return
        self._last_text = now
        epoch = min(info.epochs, step // info.steps_per_epoch + 1)
        in_epoch = 100 * (step - (epoch - 1) * info.steps_per_epoch) / info.steps_per_epoch
        run = 100 * step / max(1, self.bar.maximum())
        self.headline.setText(f"Epoch {epoch} of {info.epochs} ({in_epoch:.0f}%) · "
                              f"run {run:.0f}% done")
        elapsed = now - self._t0 - self._paused_s
        done = step - (self._step0 or 0)
        if done > 0 and elapsed > 0:
            rate = done / elapsed  # steps per second, evaluation time included
            left = (self.bar.maximum() - step) / rate
            self.details.setText(f"{format_duration(left)} left · "
                                 f"{rate * self.batch_size:,.0f} samples/s")

    def _advance_in_time(self, info: StartInfo, step: int, now: float) -> None:
        """A time-budget run: the bar is the budget's seconds (the trainer ends it on time)."""
        elapsed = now - self._budget_started - self._paused_s
        self.bar.setValue(min(self.bar.maximum(), round(elapsed * 10)))
        if now - self._last_text < TEXT_EVERY_S:
            return
        self._last_text = now
        self.planned_epochs = self._plan(info, step, now, elapsed)
        done = step / info.steps_per_epoch
        plan = f" of ~{self.planned_epochs:.2f} planned" if self.planned_epochs else ""
        self.headline.setText(f"{done:.2f} epochs{plan} · {format_duration(elapsed)} of the "
                              f"{format_duration(info.time_budget)} time budget")
        if elapsed > 0:
            self.details.setText(f"{step * self.batch_size / elapsed:,.0f} samples/s")

    def _plan(self, info: StartInfo, step: int, now: float, elapsed: float) -> float:
        """The epochs the budget will reach at the step rate measured since the first step
        (after compiling), less the trainer's reserve for the final evaluation and exit, as the
        trainer plans them; 0 until 2 s of steps were measured."""
        measured = now - (self._t0 or now) - self._paused_s
        if measured < 2.0 or step <= (self._step0 or 0):
            return 0.0
        rate = (step - (self._step0 or 0)) / measured  # steps per second
        reserve = estimate_reserve(info.n_test, rate * max(1, self.batch_size))
        left = max(0.0, info.time_budget - elapsed - reserve)
        return (step + rate * left) / info.steps_per_epoch

    def epoch(self, metrics: EpochMetrics) -> None:
        if self.info is not None:
            self.details.setText(f"Epoch {metrics.epoch}: test {metrics.test_acc:.2f}% · "
                                 f"{metrics.samples_per_s:,.0f} samples/s")
            self._last_text = time.monotonic()

    def paused(self, paused: bool) -> None:
        now = time.monotonic()
        if paused:
            self._paused_at = now
            self.headline.setText(f"Paused · {self.headline.text()}")
        elif self._paused_at is not None:
            self._paused_s += now - self._paused_at
            self._paused_at = None
            self.headline.setText(self.headline.text().removeprefix("Paused · "))
