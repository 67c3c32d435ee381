"""The training loop: a plain function that reports through a `Reporter` and obeys a `TrainControl`.

Read it top to bottom: `train` builds a `TrainState` (core/training/state.py), then runs
`train_one_epoch` and `end_epoch` (evaluate, save, report) until the last epoch or a stop.
A time budget runs the same epochs (`train_to_budget`), the last one cut short, and evaluates
once. Every optimizer step, here and in fine-tuning, is `core.training.steps.optimizer_step`.
Whole dataset on the device as uint8, batches gathered by index and augmented there: no
DataLoader, no per-sample Python.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import torch

from core.data.pen_variants import gather_batch
from core.errors import ConfigError
from core.text import plural
from core.training.budget import (
    BudgetStart,
    TimeBudget,
    budget_summary,
    budget_verdict,
    follow_budget,
    new_budget,
    use_budget_threads,
)
from core.training.control import Reporter, RunSink, TrainControl
from core.training.evaluate import eval_batch_size, evaluate, prepare_input
from core.training.metrics import EpochMetrics, StepMetrics
from core.training.state import TrainState, build_state, epoch_seed
from core.training.steps import optimizer_step
from core.training.swa import recompute_batchnorm
from core.training.tta import with_tta

if TYPE_CHECKING:
    from core.data.mnist import MnistArrays
    from core.training.config import TrainConfig


@dataclass
class TrainResult:
    status: str  # "completed" | "stopped"
    epochs_done: int
    history: list[EpochMetrics] = field(default_factory=list)
    model: torch.nn.Module | None = None  # the weights to use (EMA when enabled)
    compile_seconds: float = 0.0  # spent compiling before epoch 1 (not in any epoch's time)
    verdict: str = ""  # a time budget that ended far from a trained model says so


@dataclass
class EpochTraining:
    """What passes over the training images measured (before evaluation): one epoch's, or, for
    a time budget, every pass of the run (the last one cut short)."""

    started: float  # perf_counter() when the first pass began
    loss_sum: float = 0.0  # training loss summed over the steps
    correct: int = 0  # training batches' digits read right (augmented)
    steps: int = 0  # optimizer steps taken
    images: int = 0  # images stepped on
    paused: float = 0.0  # seconds spent paused, excluded from every timing
    stopped: bool = False  # a stop was requested: the pass did not finish

    @property
    def loss(self) -> float:
        return self.loss_sum / max(self.steps, 1)

    @property
    def acc(self) -> float:  # %
        return 100.0 * self.correct / max(self.images, 1)


def train(config: TrainConfig, *, reporter: Reporter | None = None,
          control: TrainControl | None = None, run: RunSink | None = None,
          data: MnistArrays | None = None, resume: bool = False,
          budget_start: BudgetStart | None = None) -> TrainResult:
    """Train `config.model` as configured. Saves into `run` when given; `resume` continues it.

    With `config.time_budget`, the run ends that many seconds after `budget_start` (default:
    now) instead of after `config.epochs` (see `train_to_budget`).
    Whatever goes wrong (MNIST missing and no network, a bad setting, divergence, out of memory)
    is recorded in the run as "failed" ("interrupted" for Ctrl+C) before the error propagates.
    """
    try:
        if config.time_budget and resume:
            raise ConfigError("A run trained to a time budget cannot be resumed (its time is "
                              "spent): start a new run.")
        budget_start = budget_start or BudgetStart.now()
        if config.time_budget:
            use_budget_threads(config)
        state = build_state(config, reporter or Reporter(), control or TrainControl(), run,
                            data, resume)
        if config.time_budget:
            return train_to_budget(state, new_budget(state, budget_start))
        while state.epochs_done < config.epochs:
            epoch = train_one_epoch(state)
            if epoch.stopped:
                return finish(state, "stopped")
            end_epoch(state, epoch)
        return finish(state, "completed")
    except BaseException as e:
        if run is not None:
            run.mark("interrupted" if isinstance(e, KeyboardInterrupt) else "failed", str(e))
        raise


def train_to_budget(state: TrainState, budget: TimeBudget) -> TrainResult:
    """Epochs until the time budget's planned steps are done (the last one cut short), then one
    evaluation: a test pass after every epoch would spend the budget on measuring."""
    follow_budget(state, budget)
    passes = EpochTraining(started=time.perf_counter())  # every pass adds to it
    budget.begin()
    try:
        while True:  # at least one step, even when start-up already spent the budget
            train_one_epoch(state, budget, into=passes)
            if passes.stopped:
                return finish(state, "stopped")
            if budget.finished:
                break
        evaluation_started = time.perf_counter()
        end_epoch(state, passes)
        record = budget.end(evaluation_s=time.perf_counter() - evaluation_started)
    finally:
        budget.close()
    record.verdict = budget_verdict(record, state.history[-1].test_acc)
    state.reporter.status(budget_summary(record))
    if state.run is not None:
        state.run.note_env("time_budget", record.to_dict())
    return finish(state, "completed", record.verdict)


def train_one_epoch(state: TrainState, budget: TimeBudget | None = None,
                    into: EpochTraining | None = None) -> EpochTraining:
    """One pass over the training images in this epoch's order, one optimizer step per batch,
    summed into `into` (default: a new tally); with a `budget`, it ends early once the budget's
    planned steps are done. A pass that is not stopped counts as an epoch done: the one place
    `state.epochs_done` advances."""
    config, device, control = state.config, state.device, state.control
    epoch, spe = state.epochs_done, state.steps_per_epoch
    tally = into if into is not None else EpochTraining(started=time.perf_counter())
    torch.manual_seed(epoch_seed(config.seed, epoch))  # dropout masks
    gen = torch.Generator(device=device).manual_seed(epoch_seed(config.seed, epoch))
    order = torch.randperm(len(state.train), generator=gen, device=device)
    augmentation = state.augmentation(epoch)
    state.model.train()
    loss_sum = torch.zeros((), device=device)  # summed on the device: no sync per step
    correct = torch.zeros((), device=device, dtype=torch.long)
    window_loss, window_n = torch.zeros((), device=device), 0
    steps = 0
    for b in range(spe):
        paused_now = control.wait_while_paused()
        tally.paused += paused_now
        if control.stop_requested:
            tally.stopped = True
            return tally
        idx = order[b * config.batch_size:(b + 1) * config.batch_size]
        images = gather_batch(state.train, idx, augmentation.pen, gen)  # some pen-redrawn
        x = prepare_input(images, augmentation, gen)  # (B, 1, 28, 28), augmented
        y = state.train.labels[idx]
        # The budget hears of the step before the schedule reads its progress.
        detached, logits = optimizer_step(
            state.forward, state.optimizer, state.scheduler, x, y,
            label_smoothing=config.label_smoothing, use_amp=state.use_amp,
            before_schedule=None if budget is None else partial(budget.step_done, paused_now))
        if state.ema is not None:
            state.ema.update(state.model)
        loss_sum += detached
        window_loss += detached
        window_n += 1
        steps += 1
        correct += (logits.argmax(1) == y).sum()
        ends_early = budget is not None and budget.finished
        if window_n == config.log_every or b == spe - 1 or ends_early:
            report_step(state, b, (window_loss / window_n).item())
            window_loss.zero_()
            window_n = 0
        if ends_early:
            break
    tally.loss_sum += loss_sum.item()
    tally.correct += int(correct.item())
    tally.steps += steps
    tally.images += steps * config.batch_size
    state.epochs_done += 1
    return tally


def report_step(state: TrainState, batch: int, mean_loss: float) -> None:
    """Send the mean loss of the steps up to `batch` (0-based in this epoch) since the last
    report; a non-finite one ends the run."""
    epoch, spe = state.epochs_done, state.steps_per_epoch
    if not math.isfinite(mean_loss):
        raise ConfigError(f"Training diverged (loss {mean_loss}) at epoch "
                          f"{epoch + 1}: lower the learning rate (now "
                          f"{state.config.lr}).")
    metrics = StepMetrics(step=epoch * spe + batch + 1, epoch=epoch + (batch + 1) / spe,
                          loss=mean_loss, lr=state.optimizer.param_groups[0]["lr"])
    if state.run is not None:
        state.run.add_step(metrics)
    state.reporter.step(metrics)


def end_epoch(state: TrainState, epoch: EpochTraining) -> EpochMetrics:
    """Evaluate the epoch's weights, record the epoch (checkpoint included) and report it.
    `state.epochs_done` already counts the epoch (train_one_epoch advanced it)."""
    train_seconds = time.perf_counter() - epoch.started - epoch.paused
    swa = state.swa
    if swa is not None and state.averages(state.epochs_done - 1):  # join the average, new BN
        swa.update(state.model)
        recompute_batchnorm(swa.module, state.train.images, eval_batch_size(state.device))
    model = with_tta(state.eval_model, state.config)  # itself when TTA is off
    test_loss, test_acc, _ = evaluate(model, state.test)
    val_loss, val_acc = (evaluate(model, state.val)[:2] if state.val is not None
                         else (None, None))
    metrics = EpochMetrics(
        epoch=state.epochs_done, train_loss=epoch.loss, train_acc=epoch.acc,
        test_loss=test_loss, test_acc=test_acc, val_loss=val_loss, val_acc=val_acc,
        lr=state.optimizer.param_groups[0]["lr"],
        seconds=time.perf_counter() - epoch.started - epoch.paused,
        samples_per_s=epoch.images / max(train_seconds, 1e-9))
    state.history.append(metrics)
    if state.run is not None:
        state.run.save_epoch(metrics, state.checkpoint())
    state.reporter.epoch(metrics)
    return metrics


def finish(state: TrainState, status: str, verdict: str = "") -> TrainResult:
    if state.run is not None:
        state.run.mark(status)
    state.reporter.status(
        verdict or f"Training {status} after {plural(state.epochs_done, 'epoch')}.")
    return TrainResult(status=status, epochs_done=state.epochs_done, history=state.history,
                       model=state.eval_model, compile_seconds=state.compile_seconds,
                       verdict=verdict)
