"""The training loop: a plain function that reports through a `Reporter` and obeys a `TrainControl`.

Read it top to bottom: `train` builds a `TrainState` (core/training/state.py), then runs
`train_one_epoch` and `end_epoch` (evaluate, save, report) until the last epoch or a stop.
Whole dataset on the device as uint8, batches gathered by index and augmented there: no
DataLoader, no per-sample Python.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from core.data.pen_variants import gather_batch
from core.errors import ConfigError
from core.training.budget import (
    BudgetStart,
    TimeBudget,
    budget_summary,
    follow_budget,
    new_budget,
    use_budget_threads,
)
from core.training.control import Reporter, TrainControl
from core.training.evaluate import eval_batch_size, evaluate, prepare_input
from core.training.metrics import EpochMetrics, StepMetrics
from core.training.state import TrainState, build_state, epoch_seed
from core.training.swa import recompute_batchnorm
from core.training.tta import with_tta

if TYPE_CHECKING:
    from core.data.mnist import MnistArrays
    from core.runs.store import Run
    from core.training.config import TrainConfig


@dataclass
class TrainResult:
    status: str  # "completed" | "stopped"
    epochs_done: int
    history: list[EpochMetrics] = field(default_factory=list)
    model: torch.nn.Module | None = None  # the weights to use (EMA when enabled)
    compile_seconds: float = 0.0  # spent compiling before epoch 1 (not in any epoch's time)


@dataclass
class EpochTraining:
    """What one pass over the training images measured (before evaluation)."""

    loss: float  # mean training loss over the epoch's batches
    acc: float  # %, on the (augmented) training batches
    started: float  # perf_counter() when the epoch began
    paused: float  # seconds spent paused, excluded from every timing
    stopped: bool  # a stop was requested: the epoch did not finish
    steps: int = 0  # optimizer steps taken (fewer than an epoch's when a time budget ended it)


def train(config: TrainConfig, *, reporter: Reporter | None = None,
          control: TrainControl | None = None, run: Run | None = None,
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
    steps, loss, correct, paused = 0, 0.0, 0.0, 0.0
    started = time.perf_counter()
    budget.begin()
    while True:
        epoch = train_one_epoch(state, budget)
        if epoch.stopped:
            return finish(state, "stopped")
        steps, paused = steps + epoch.steps, paused + epoch.paused
        loss, correct = loss + epoch.loss * epoch.steps, correct + epoch.acc * epoch.steps
        if budget.finished:
            break
        state.epochs_done += 1  # the next epoch's order and augmentation
    evaluation_started = time.perf_counter()
    end_epoch(state, EpochTraining(loss=loss / steps, acc=correct / steps, started=started,
                                   paused=paused, stopped=False, steps=steps))
    record = budget.end(evaluation_s=time.perf_counter() - evaluation_started)
    state.reporter.status(budget_summary(record))
    if state.run is not None:
        state.run.record.env["time_budget"] = record.to_dict()
    return finish(state, "completed")


def train_one_epoch(state: TrainState, budget: TimeBudget | None = None) -> EpochTraining:
    """One pass over the training images in this epoch's order, one optimizer step per batch;
    with a `budget`, it ends early once the budget's planned steps are done."""
    config, device, control = state.config, state.device, state.control
    epoch, spe = state.epochs_done, state.steps_per_epoch
    torch.manual_seed(epoch_seed(config.seed, epoch))  # dropout masks
    gen = torch.Generator(device=device).manual_seed(epoch_seed(config.seed, epoch))
    order = torch.randperm(len(state.train), generator=gen, device=device)
    # None turns every augmentation off (the last augment_off_epochs): digits as they are.
    augment = config if state.augments(epoch) else None
    state.model.train()
    loss_sum = torch.zeros((), device=device)  # summed on the device: no sync per step
    correct = torch.zeros((), device=device, dtype=torch.long)
    window_loss, window_n = torch.zeros((), device=device), 0
    started, paused = time.perf_counter(), 0.0
    steps = spe
    for b in range(spe):
        paused_now = control.wait_while_paused()
        paused += paused_now
        if control.stop_requested:
            return EpochTraining(0.0, 0.0, started, paused, stopped=True)
        idx = order[b * config.batch_size:(b + 1) * config.batch_size]
        images = gather_batch(state.train, idx, augment.augment_pen if augment else 0.0,
                              gen)  # some pen-redrawn
        x = prepare_input(images, augment, gen)  # (B, 1, 28, 28), augmented
        y = state.train.labels[idx]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=state.use_amp):
            logits = state.forward(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing)
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        state.optimizer.step()
        if budget is not None:
            budget.step_done(paused_now)  # before the schedule reads its progress
        state.scheduler.step()
        if state.ema is not None:
            state.ema.update(state.model)
        detached = loss.detach()
        loss_sum += detached
        window_loss += detached
        window_n += 1
        correct += (logits.argmax(1) == y).sum()
        ends_early = budget is not None and budget.finished
        if window_n == config.log_every or b == spe - 1 or ends_early:
            report_step(state, b, (window_loss / window_n).item())
            window_loss.zero_()
            window_n = 0
        if ends_early:
            steps = b + 1
            break
    return EpochTraining(loss=loss_sum.item() / steps,
                         acc=100.0 * correct.item() / (steps * config.batch_size),
                         started=started, paused=paused, stopped=False, steps=steps)


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
    """Evaluate the epoch's weights, record the epoch (checkpoint included) and report it."""
    train_seconds = time.perf_counter() - epoch.started - epoch.paused
    swa = state.swa
    if swa is not None and state.averages(state.epochs_done):  # join the average, new BN stats
        swa.update(state.model)
        recompute_batchnorm(swa.module, state.train.images, eval_batch_size(state.device))
    model = with_tta(state.eval_model, state.config)  # itself when TTA is off
    test_loss, test_acc, _ = evaluate(model, state.test)
    val_loss, val_acc = (evaluate(model, state.val)[:2] if state.val is not None
                         else (None, None))
    steps, batch = epoch.steps or state.steps_per_epoch, state.config.batch_size
    metrics = EpochMetrics(
        epoch=state.epochs_done + 1, train_loss=epoch.loss, train_acc=epoch.acc,
        test_loss=test_loss, test_acc=test_acc, val_loss=val_loss, val_acc=val_acc,
        lr=state.optimizer.param_groups[0]["lr"],
        seconds=time.perf_counter() - epoch.started - epoch.paused,
        samples_per_s=steps * batch / max(train_seconds, 1e-9))
    state.history.append(metrics)
    state.epochs_done += 1
    if state.run is not None:
        state.run.save_epoch(metrics, state.checkpoint())
    state.reporter.epoch(metrics)
    return metrics


def finish(state: TrainState, status: str) -> TrainResult:
    if state.run is not None:
        state.run.mark(status)
    state.reporter.status(f"Training {status} after {state.epochs_done} epoch(s).")
    return TrainResult(status=status, epochs_done=state.epochs_done, history=state.history,
                       model=state.eval_model, compile_seconds=state.compile_seconds)
