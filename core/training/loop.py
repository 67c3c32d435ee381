"""The training loop: a plain function that reports through a `Reporter` and obeys a `TrainControl`.

Whole dataset on the device as uint8, batches gathered by index and augmented there: no
DataLoader, no per-sample Python. Every epoch reseeds its own generators from (seed, epoch), so
a run resumed from the checkpoint of epoch k replays epochs k+1.. exactly as an unbroken run would.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from core.data.mnist import DeviceSplit, MnistArrays, load_mnist, to_device
from core.errors import ConfigError
from core.models import build_model, count_parameters
from core.training.checkpoints import capture_state, restore_state
from core.training.config import TrainConfig, lr_multiplier, steps_per_epoch
from core.training.control import Reporter, TrainControl
from core.training.devices import device_label, resolve_device
from core.training.ema import WeightEMA
from core.training.evaluate import evaluate, prepare_input
from core.training.metrics import EpochMetrics, StartInfo, StepMetrics
from core.training.speed import compile_for_training

if TYPE_CHECKING:
    from core.runs.store import Run


@dataclass
class TrainResult:
    status: str  # "completed" | "stopped"
    epochs_done: int
    history: list[EpochMetrics] = field(default_factory=list)
    model: torch.nn.Module | None = None  # the weights to use (EMA when enabled)
    compile_seconds: float = 0.0  # spent compiling before epoch 1 (not in any epoch's time)


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7919) % (2**63 - 1)


def build_optimizer(config: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    # Weight decay on conv/linear weights only: decaying BN scales and biases only hurts tiny nets.
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    # One fused kernel for every tensor: on the CPU torch's default per-tensor loop costs
    # ~2 ms a step for these ~30 small tensors, longer than some layers' convolutions.
    device_type = next(model.parameters()).device.type
    fused = {"fused": True} if device_type in ("cpu", "cuda") else {}
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum,
                               nesterov=config.nesterov and config.momentum > 0, **fused)
    betas = (config.momentum, 0.999)
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.lr, betas=betas, **fused)
    return torch.optim.AdamW(groups, lr=config.lr, betas=betas, **fused)


def train(config: TrainConfig, *, reporter: Reporter | None = None,
          control: TrainControl | None = None, run: Run | None = None,
          data: MnistArrays | None = None, resume: bool = False) -> TrainResult:
    """Train `config.model` as configured. Saves into `run` when given; `resume` continues it.

    Whatever goes wrong (MNIST missing and no network, a bad setting, divergence, out of memory)
    is recorded in the run as "failed" ("interrupted" for Ctrl+C) before the error propagates.
    """
    try:
        return _train(config, reporter or Reporter(), control or TrainControl(), run, data,
                      resume)
    except BaseException as e:
        if run is not None:
            run.mark("interrupted" if isinstance(e, KeyboardInterrupt) else "failed", str(e))
        raise


def _train(config: TrainConfig, reporter: Reporter, control: TrainControl, run: Run | None,
           data: MnistArrays | None, resume: bool) -> TrainResult:
    config.validate()
    device = resolve_device(config.device)
    use_amp = config.amp and device.type == "cuda"

    if data is None:
        reporter.status("Loading MNIST…")
        data = load_mnist(config.data_dir or None, progress=reporter.download)
    data = data.subset(config.train_subset, config.test_subset)
    if config.val_split:
        data = data.with_validation(config.val_split, seed=config.seed)
    train_split = to_device(data.train_images, data.train_labels, device)
    test_split = to_device(data.test_images, data.test_labels, device)
    val_split = (to_device(data.val_images, data.val_labels, device)
                 if data.val_images is not None else None)
    n_train = len(train_split)
    if n_train < config.batch_size:
        raise ConfigError(f"Batch size {config.batch_size} is larger than the {n_train} training "
                          f"images: lower the batch size.")

    torch.manual_seed(config.seed)  # initial weights depend on the seed alone
    model = build_model(config.model).to(device)
    if device.type == "cuda":  # cuDNN's fastest convolutions (and bf16 tensor cores) want NHWC
        model = model.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True  # shapes never change within a run: tune once
    optimizer = build_optimizer(config, model)
    spe = steps_per_epoch(n_train, config.batch_size)
    total_steps = spe * config.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_multiplier(config, s, total_steps))
    ema = WeightEMA(model, config.ema_decay) if config.ema else None
    history: list[EpochMetrics] = []
    start_epoch = 0
    if resume:
        if run is None:
            raise ConfigError("Resuming needs a run to resume.")
        state = run.load_checkpoint("last", map_location=device)
        start_epoch, history = restore_state(state, model, optimizer, scheduler, ema)

    reporter.started(StartInfo(
        model=config.model, params=count_parameters(model), device=device_label(device),
        epochs=config.epochs, steps_per_epoch=spe, n_train=n_train, n_test=len(test_split),
        start_epoch=start_epoch, run_id=run.id if run else ""))
    forward, compile_seconds = model, 0.0
    if config.compile and start_epoch < config.epochs:
        reporter.status("Compiling the model (once per run; cached for the next)…")
        sample = prepare_input(train_split.images[:config.batch_size], None, None)
        compiled = compile_for_training(model, sample, use_amp)
        forward, compile_seconds = compiled.forward, compiled.seconds
        reporter.status(compiled.note)
        if run is not None:
            run.record.env["compile"] = compiled.note
    if run is not None:
        run.record.env["device"] = device_label(device)
        run.mark_running()
    result = _run_epochs(config, reporter, control, run, model, forward, optimizer, scheduler,
                         ema, train_split, test_split, val_split, start_epoch, history, use_amp)
    result.compile_seconds = compile_seconds
    return result


def _run_epochs(config: TrainConfig, reporter: Reporter, control: TrainControl, run: Run | None,
                model: torch.nn.Module, forward: Any, optimizer: torch.optim.Optimizer,
                scheduler: Any, ema: Any, train_split: DeviceSplit, test_split: DeviceSplit,
                val_split: DeviceSplit | None, start_epoch: int, history: list[EpochMetrics],
                use_amp: bool) -> TrainResult:
    device = train_split.labels.device
    n_train = len(train_split)
    spe = steps_per_epoch(n_train, config.batch_size)
    model.train()
    for epoch in range(start_epoch, config.epochs):
        torch.manual_seed(_epoch_seed(config.seed, epoch))  # dropout masks
        gen = torch.Generator(device=device).manual_seed(_epoch_seed(config.seed, epoch))
        order = torch.randperm(n_train, generator=gen, device=device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        window_loss, window_n = torch.zeros((), device=device), 0
        t0, paused = time.perf_counter(), 0.0
        for b in range(spe):
            paused += control.wait_while_paused()
            if control.stop_requested:
                return _finish(run, reporter, "stopped", epoch, history, ema or model)
            idx = order[b * config.batch_size:(b + 1) * config.batch_size]
            x = prepare_input(train_split.images[idx], config, gen)
            y = train_split.labels[idx]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                logits = forward(x)  # the compiled model when compiling, same weights
                loss = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            if ema is not None:
                ema.update(model)
            detached = loss.detach()
            loss_sum += detached
            window_loss += detached
            window_n += 1
            correct += (logits.argmax(1) == y).sum()
            global_step = epoch * spe + b + 1
            if window_n == config.log_every or b == spe - 1:
                mean_loss = (window_loss / window_n).item()
                if not math.isfinite(mean_loss):
                    raise ConfigError(f"Training diverged (loss {mean_loss}) at epoch {epoch + 1}: "
                                      f"lower the learning rate (now {config.lr}).")
                step_metrics = StepMetrics(step=global_step, epoch=epoch + (b + 1) / spe,
                                           loss=mean_loss, lr=optimizer.param_groups[0]["lr"])
                if run is not None:
                    run.add_step(step_metrics)
                reporter.step(step_metrics)
                window_loss.zero_()
                window_n = 0
        train_seconds = time.perf_counter() - t0 - paused
        eval_model = ema.module if ema is not None else model
        test_loss, test_acc, _ = evaluate(eval_model, test_split)
        val_loss, val_acc = (evaluate(eval_model, val_split)[:2] if val_split is not None
                             else (None, None))
        seconds = time.perf_counter() - t0 - paused
        metrics = EpochMetrics(
            epoch=epoch + 1, train_loss=loss_sum.item() / spe,
            train_acc=100.0 * correct.item() / (spe * config.batch_size),
            test_loss=test_loss, test_acc=test_acc, val_loss=val_loss, val_acc=val_acc,
            lr=optimizer.param_groups[0]["lr"], seconds=seconds,
            samples_per_s=spe * config.batch_size / max(train_seconds, 1e-9))
        history.append(metrics)
        if run is not None:
            run.save_epoch(metrics, capture_state(model, optimizer, scheduler, ema, config,
                                                  epoch + 1, history))
        reporter.epoch(metrics)
    return _finish(run, reporter, "completed", config.epochs, history, ema or model)


def _finish(run: Run | None, reporter: Reporter, status: str, epochs_done: int,
            history: list[EpochMetrics], model: torch.nn.Module) -> TrainResult:
    if isinstance(model, WeightEMA):
        model = model.module
    if run is not None:
        run.mark(status)
    reporter.status(f"Training {status} after {epochs_done} epoch(s).")
    return TrainResult(status=status, epochs_done=epochs_done, history=history, model=model)
