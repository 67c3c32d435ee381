"""Everything a training run holds between steps, in one `TrainState`, and how it is set up.

`build_state` does the one-off work before epoch 1 (data on the device, model, optimizer,
schedule, EMA, a resumed checkpoint, compilation); `core.training.loop` then only reads and
advances the state. Every epoch reseeds its own generators from (seed, epoch), so a run resumed
from the checkpoint of epoch k replays epochs k+1.. exactly as an unbroken run would.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from core.data.augment import NO_AUGMENTATION, Augmentation
from core.data.mnist import DeviceSplit, MnistArrays, load_mnist, to_device
from core.data.pen_variants import attach_pen_variants
from core.errors import ConfigError
from core.models import build_model, count_parameters
from core.training.checkpoints import capture_state, restore_state
from core.training.config import TrainConfig, lr_multiplier, steps_per_epoch
from core.training.control import Reporter, RunSink, TrainControl
from core.training.devices import device_label, resolve_device
from core.training.ema import WeightEMA
from core.training.evaluate import prepare_input
from core.training.metrics import EpochMetrics, StartInfo
from core.training.speed import autocast_bf16, compile_for_training
from core.training.swa import WeightAverage


@dataclass
class TrainState:
    """One run in progress: what it trains, with what, on which data, where it reports."""

    config: TrainConfig
    device: torch.device
    use_amp: bool  # bf16 autocast (speed.autocast_bf16)
    model: torch.nn.Module  # the weights being trained
    forward: Any  # callable for training steps: the compiled model when compiling, same weights
    optimizer: torch.optim.Optimizer
    scheduler: Any  # LambdaLR over lr_multiplier, stepped every batch
    ema: WeightEMA | None  # averaged copy of the weights, when config.ema
    swa: WeightAverage | None  # per-epoch average of the last config.swa_epochs epochs
    train: DeviceSplit  # uint8 images on the device, augmented per batch
    test: DeviceSplit
    val: DeviceSplit | None  # held out of the training images when config.val_split > 0
    steps_per_epoch: int
    reporter: Reporter
    control: TrainControl
    run: RunSink | None = None  # where epochs, steps and checkpoints are saved; None = nowhere
    epochs_done: int = 0  # > 0 after a resume
    history: list[EpochMetrics] = field(default_factory=list)
    compile_seconds: float = 0.0  # spent compiling before epoch 1 (not in any epoch's time)

    @property
    def eval_model(self) -> torch.nn.Module:
        """The weights that are evaluated, checkpointed as the answer and exported: the SWA
        average once it holds an epoch, else the EMA when kept, else the trained weights."""
        if self.swa is not None and self.swa.averaged > 0:
            return self.swa.module
        return self.ema.module if self.ema is not None else self.model

    def augmentation(self, epoch: int) -> Augmentation:
        """What epoch `epoch` (0-based) does to its batches: the config's augmentation, or none
        in the last augment_off_epochs. (A time-budget run may pass `config.epochs`; it has no
        augmentation-off tail.)"""
        off = self.config.augment_off_epochs
        return (self.config.augmentation() if not off or epoch < self.config.epochs - off
                else NO_AUGMENTATION)

    def averages(self, epoch: int) -> bool:
        """Whether epoch `epoch` (0-based) ends with its weights joining the SWA average."""
        return self.swa is not None and epoch >= self.config.epochs - self.config.swa_epochs

    def checkpoint(self) -> dict[str, Any]:
        return capture_state(self.model, self.optimizer, self.scheduler, self.ema, self.config,
                             self.epochs_done, self.history, swa=self.swa)


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch `epoch` (0-based): its order, augmentation and dropout masks."""
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


def build_state(config: TrainConfig, reporter: Reporter, control: TrainControl,
                run: RunSink | None, data: MnistArrays | None, resume: bool) -> TrainState:
    """Validate, load the data onto the device, build model and optimizer, restore, compile."""
    config.validate()
    device = resolve_device(config.device)
    train_split, test_split, val_split = _device_splits(config, data, device, reporter)

    torch.manual_seed(config.seed)  # initial weights depend on the seed alone
    model = build_model(config.model).to(device)
    if device.type == "cuda":  # cuDNN's fastest convolutions (and bf16 tensor cores) want NHWC
        model = model.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True  # shapes never change within a run: tune once
    optimizer = build_optimizer(config, model)
    spe = steps_per_epoch(len(train_split), config.batch_size)
    total_steps = spe * config.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_multiplier(config, s, total_steps))
    state = TrainState(
        config=config, device=device, use_amp=autocast_bf16(config, device), model=model,
        forward=model, optimizer=optimizer, scheduler=scheduler,
        ema=WeightEMA(model, config.ema_decay) if config.ema else None,
        swa=WeightAverage(model) if config.swa_epochs else None,
        train=train_split, test=test_split, val=val_split, steps_per_epoch=spe,
        reporter=reporter, control=control, run=run)
    if resume:
        if run is None:
            raise ConfigError("Resuming needs a run to resume.")
        saved = run.load_checkpoint("last", map_location=device)
        state.epochs_done, state.history = restore_state(saved, model, optimizer, scheduler,
                                                         state.ema, swa=state.swa)

    reporter.started(StartInfo(
        model=config.model, params=count_parameters(model), device=device_label(device),
        epochs=config.epochs, steps_per_epoch=spe, n_train=len(train_split),
        n_test=len(test_split), start_epoch=state.epochs_done, run_id=run.id if run else "",
        time_budget=config.time_budget))
    # A time budget decides for itself whether compiling pays (budget_compile.py).
    if config.compile and state.epochs_done < config.epochs and not config.time_budget:
        _compile(state)
    if run is not None:
        run.note_env("device", device_label(device))
        run.mark_running()
    return state


def _device_splits(config: TrainConfig, data: MnistArrays | None, device: torch.device,
                   reporter: Reporter) -> tuple[DeviceSplit, DeviceSplit, DeviceSplit | None]:
    """(train, test, validation or None) as uint8 tensors on `device`."""
    if data is None:
        reporter.status("Loading MNIST…")
        data = load_mnist(config.data_dir or None, progress=reporter.download)
    data = data.subset(config.train_subset, config.test_subset)
    if config.val_split:
        data = data.with_validation(config.val_split, seed=config.seed)
    if config.pen_writers:  # real pen digits join the training images (never val or test)
        data = _with_pen_writers(data, config, reporter)
    train_split = to_device(data.train_images, data.train_labels, device)
    if config.augment_pen > 0:  # each training digit's pen re-drawing, swapped in per batch
        train_split = attach_pen_variants(train_split, data.train_images, data.train_labels,
                                          reporter.status)
    test_split = to_device(data.test_images, data.test_labels, device)
    val_split = (to_device(data.val_images, data.val_labels, device)
                 if data.val_images is not None else None)
    if len(train_split) < config.batch_size:
        raise ConfigError(f"Batch size {config.batch_size} is larger than the "
                          f"{len(train_split)} training images: lower the batch size.")
    return train_split, test_split, val_split


def _with_pen_writers(data: MnistArrays, config: TrainConfig,
                      reporter: Reporter) -> MnistArrays:
    from core.data.pendigits import training_digits

    reporter.status("Drawing the pen writers' digits…")
    images, labels = training_digits(config.pen_writers, seed=config.seed)
    return replace(data, train_images=np.concatenate((data.train_images, images)),
                   train_labels=np.concatenate((data.train_labels,
                                                labels.astype(data.train_labels.dtype))))


def _compile(state: TrainState) -> None:
    """Swap `state.forward` for the compiled model (same weights), or say why it stays eager."""
    state.reporter.status("Compiling the model (once per run; cached for the next)…")
    sample = prepare_input(state.train.images[:state.config.batch_size], None, None)
    compiled = compile_for_training(state.model, sample, state.use_amp)
    state.forward, state.compile_seconds = compiled.forward, compiled.seconds
    state.reporter.status(compiled.note)
    if state.run is not None:
        state.run.note_env("compile", compiled.note)
