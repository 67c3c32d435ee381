"""`TrainConfig` and the learning-rate schedules, torch-free so the GUI can use them at start-up."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from core.data.augment import ROTATION_AT_FULL_STRENGTH, Augmentation, AugmentSpec
from core.errors import ConfigError
from core.fileio import from_saved

# Upper limits of the settings (lower limits are in TrainConfig.validate, next to them).
MAX_EPOCHS = 1000
MAX_TIME_BUDGET = 7 * 24 * 3600  # seconds: a week
MAX_BATCH = 65_536
MAX_LR = 10.0
MAX_AUGMENT = 3.0  # beyond ±24° rotation and ±24% shift/scale digits stop looking like digits
MAX_STROKE = 2.0  # up to two 3×3 dilations or erosions: more erases a 28×28 digit
MAX_SEED = 2**63 - 1  # torch and numpy seeds are 64-bit
MAX_IMAGES = 10_000_000  # subsets and splits: far above any MNIST-format set
MAX_PEN_WRITER_COPIES = 10  # drawings of each real pen digit added to training
MAX_TTA_DEGREES = 30.0  # test-time rotations beyond that turn a 6 toward a 9

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("onecycle", "step", "cosine", "constant")
DEVICES = ("auto", "cpu", "cuda", "mps")  # also "cuda:N"


@dataclass
class TrainConfig:
    """Everything that decides a run. Saved into every checkpoint and ONNX export."""

    model: str = "dl-dilated-8k"  # zoo name (`digitlab-cli models`)
    epochs: int = 15
    # Seconds for the whole run (0 = off): the trainer measures its step rate, then fits the
    # steps and the schedule into the budget instead of `epochs` (core/training/budget.py).
    time_budget: float = 0.0
    batch_size: int = 128  # images per optimizer step
    optimizer: str = "sgd"  # sgd | adam | adamw
    lr: float = 0.05  # peak learning rate (OneCycle's max_lr; start value for the others)
    momentum: float = 0.9  # SGD momentum; Adam's beta1
    nesterov: bool = True  # SGD only
    schedule: str = "onecycle"  # onecycle | step | cosine | constant, stepped every batch
    pct_start: float = 0.2  # OneCycle: fraction of all steps spent warming up
    step_size: int = 5  # step schedule: epochs between decays
    gamma: float = 0.1  # step schedule: factor per decay
    weight_decay: float = 5e-4  # L2 (SGD, Adam) or decoupled (AdamW)
    label_smoothing: float = 0.0  # 0..0.3
    augment: float = 1.0  # augmentation strength: 0 = none, 1 = ±8° rot, ±8% shift/scale, ±6° shear
    augment_stroke: float = 0.0  # stroke jitter: 0 = none, 1 = up to one 3×3 dilation/erosion
    augment_aspect: float = 0.0  # proportions jitter: ± this fraction of the digit's width
    augment_elastic: float = 0.0  # elastic warp: ± pixels of a smooth displacement at strength 1
    augment_pen: float = 0.0  # share of images swapped for pen re-drawings (data.pen_variants)
    # Real pen writers (core.data.pendigits, the 20 training writers only): this many drawings
    # of each of their ~5,000 digits join the training images (0 = MNIST alone).
    pen_writers: int = 0
    ema: bool = False  # evaluate and export an exponential moving average of the weights
    ema_decay: float = 0.999  # per step
    # Write-up 004's stable-recipe tail: the last N epochs see the training digits as they are.
    augment_off_epochs: int = 0  # train the last N epochs without augmentation (0 = never)
    # SWA: average the weights at the end of each of the last N epochs; BatchNorm statistics are
    # recomputed on the training images before every evaluation (core/training/swa.py). In those
    # epochs the average is evaluated, checkpointed and exported instead of the EMA.
    swa_epochs: int = 0  # 0 = off
    # Test-time augmentation: read each digit also rotated by ± this many degrees and average
    # the probabilities (core/training/tta.py), in every evaluation of the run (0 = off).
    tta_degrees: float = 0.0
    tta_in_onnx: bool = True  # with TTA: put the rotations into the exported graph too
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    amp: bool = True  # bf16 autocast on CUDA (ignored on CPU and MPS: see cpu_bf16)
    # bf16 autocast on a CPU that computes bf16 natively (AVX512-BF16 or AMX; elsewhere ignored):
    # ~1.6x faster dl-dilated-8k steps on the 2-core machine. Off by default so that epoch runs
    # keep reproducing in fp32; the time-budget recipe turns it on (core/models/ours.py).
    cpu_bf16: bool = False
    compile: bool = False  # torch.compile where it works (core/fast.py); eager otherwise
    val_split: int = 0  # training images held out as a validation set (0 = none)
    train_subset: int = 0  # use only the first N training images (0 = all): quick checks
    test_subset: int = 0  # evaluate on only the first N test images (0 = all)
    log_every: int = 20  # steps between step-loss reports
    data_dir: str = ""  # MNIST folder; "" = --data / DIGITLAB_DATA / user data dir

    def validate(self) -> None:
        """Raise ConfigError naming the first setting of the wrong type or out of range.

        The one place the settings' ranges live: the CLI, the GUI and resumed runs all pass here
        before any work starts.
        """
        for f in fields(self):
            problem = field_type_problem(f.name, getattr(self, f.name))
            if problem:
                raise ConfigError(f"Invalid training setting: {problem}.")
        checks = [
            (1 <= self.epochs <= MAX_EPOCHS, f"epochs must be between 1 and {MAX_EPOCHS}"),
            (0 <= self.time_budget <= MAX_TIME_BUDGET,
             f"time budget must be between 0 (off) and {MAX_TIME_BUDGET:,} seconds"),
            (1 <= self.batch_size <= MAX_BATCH, f"batch size must be between 1 and {MAX_BATCH}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}"),
            (self.lr > 0, "learning rate must be positive"),
            (self.lr <= MAX_LR, f"learning rate must be at most {MAX_LR}"),
            (0 <= self.momentum < 1, "momentum must be in [0, 1)"),
            (0 < self.pct_start < 1, "OneCycle pct_start must be in (0, 1)"),
            (1 <= self.step_size <= MAX_EPOCHS,
             f"step size must be between 1 and {MAX_EPOCHS} epochs"),
            (0 < self.gamma <= 1, "step gamma must be in (0, 1]"),
            (0 <= self.weight_decay <= 1, "weight decay must be in [0, 1]"),
            (0 <= self.label_smoothing < 1, "label smoothing must be in [0, 1)"),
            (0 <= self.augment <= MAX_AUGMENT,
             f"augmentation strength must be between 0 and {MAX_AUGMENT} "
             f"({MAX_AUGMENT:g} = ±{MAX_AUGMENT * ROTATION_AT_FULL_STRENGTH:g}° rotation)"),
            (0 <= self.augment_stroke <= MAX_STROKE,
             f"stroke jitter must be between 0 and {MAX_STROKE}"),
            (0 <= self.augment_aspect < 1, "aspect jitter must be in [0, 1)"),
            (0 <= self.augment_elastic <= 4, "elastic warp must be 0 to 4 pixels"),
            (0 <= self.augment_pen <= 1, "pen re-drawing fraction must be in [0, 1]"),
            (0 <= self.pen_writers <= MAX_PEN_WRITER_COPIES,
             f"pen writer copies must be between 0 and {MAX_PEN_WRITER_COPIES}"),
            (0 < self.ema_decay < 1, "EMA decay must be in (0, 1)"),
            (0 <= self.augment_off_epochs <= self.epochs,
             "augmentation-off epochs must be between 0 and the number of epochs"),
            (0 <= self.swa_epochs <= self.epochs,
             "SWA epochs must be between 0 and the number of epochs"),
            (not (self.time_budget and (self.augment_off_epochs or self.swa_epochs)),
             "augmentation-off and SWA epochs count from the last epoch, which a time budget "
             "does not fix: set them to 0 or train without a time budget"),
            (0 <= self.tta_degrees <= MAX_TTA_DEGREES,
             f"TTA rotation must be between 0 (off) and {MAX_TTA_DEGREES:g} degrees"),
            (0 <= self.seed <= MAX_SEED, f"seed must be between 0 and {MAX_SEED} (2**63 - 1)"),
            (0 <= self.val_split <= MAX_IMAGES,
             f"validation split must be between 0 and {MAX_IMAGES:,} images"),
            (0 <= self.train_subset <= MAX_IMAGES,
             f"train subset must be between 0 (all) and {MAX_IMAGES:,} images"),
            # The split is held out of the subset (core.data.mnist.MnistArrays.with_validation).
            (not self.train_subset or self.val_split < self.train_subset,
             f"the validation split ({self.val_split:,} images) must be smaller than the "
             f"training images it is held out of ({self.train_subset:,}, the train subset)"),
            (0 <= self.test_subset <= MAX_IMAGES,
             f"test subset must be between 0 (all) and {MAX_IMAGES:,} images"),
            (1 <= self.log_every <= MAX_IMAGES, "log_every must be at least 1"),
            (self.device in DEVICES or re.fullmatch(r"cuda:\d{1,3}", self.device) is not None,
             f"device must be one of {', '.join(DEVICES)} or cuda:N"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"Invalid training setting: {message}.")
        from core.models import get_spec

        get_spec(self.model)  # raises ConfigError with close matches

    def augmentation(self) -> Augmentation:
        """What this run's training batches go through (in the epochs that augment at all)."""
        spec = AugmentSpec(stroke=self.augment_stroke, aspect=self.augment_aspect,
                           elastic=self.augment_elastic)
        return Augmentation(strength=self.augment, spec=spec, pen=self.augment_pen)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from saved data; unknown keys (from newer versions) are ignored."""
        return from_saved(cls, data)

    def with_overrides(self, **overrides: Any) -> TrainConfig:
        unknown = set(overrides) - {f.name for f in fields(self)}
        if unknown:
            what = "setting" if len(unknown) == 1 else "settings"
            raise ConfigError(f"Unknown training {what}: {', '.join(sorted(unknown))}.")
        return TrainConfig.from_dict({**self.to_dict(), **overrides})


_FIELD_NAMES = frozenset(f.name for f in fields(TrainConfig))


def field_type_problem(name: str, value: Any) -> str | None:
    """What is wrong with the type of setting `name` (the type of its default), or None.

    Saved configs (run.json, checkpoints) are untrusted: a number where a word belongs, or
    text where a number belongs, must be refused here rather than crash deep in training.
    """
    default = getattr(TrainConfig, name, None) if name in _FIELD_NAMES else None
    if default is None:
        return None  # not a setting of this version: ignored when loading
    if isinstance(default, bool):
        ok = isinstance(value, bool)
        kind = "on or off (true/false)"
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        kind = "a whole number"
    elif isinstance(default, float):
        ok = (isinstance(value, int | float) and not isinstance(value, bool)
              and math.isfinite(value))
        kind = "a finite number"
    else:
        ok = isinstance(value, str) and len(value) <= 1000
        kind = "text"
    return None if ok else f"{name.replace('_', ' ')} must be {kind}, not {_show(value)}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Batches per epoch; the last partial batch is dropped (it would skew BatchNorm)."""
    return max(1, n_train // batch_size)


def lr_multiplier(config: TrainConfig, step: int, total_steps: int) -> float:
    """Learning rate at optimizer step `step` as a fraction of `config.lr`.

    OneCycle follows torch's cosine OneCycleLR (start lr/25, peak at pct_start, end lr/25e4)
    without its momentum cycling; cosine anneals to 0; step decays by gamma every step_size epochs.
    """
    total = max(1, total_steps)
    t = min(step, total)
    if config.schedule == "constant":
        return 1.0
    if config.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * t / total))
    if config.schedule == "step":
        per_epoch = total / config.epochs
        return config.gamma ** int(t // (per_epoch * config.step_size))
    # onecycle
    start, end = 1 / 25.0, 1 / 25.0 / 1e4
    warm = max(1.0, config.pct_start * total)
    if t <= warm:
        p = t / warm
        return start + (1 - start) * (1 - math.cos(math.pi * p)) / 2
    p = (t - warm) / max(1.0, total - warm)
    return end + (1 - end) * (1 + math.cos(math.pi * p)) / 2


def lr_curve(config: TrainConfig, n_train: int = 60_000,
             points: int = 200) -> list[tuple[float, float]]:
    """(epoch, learning rate) pairs across the whole run: the schedule preview."""
    spe = steps_per_epoch(n_train - config.val_split, config.batch_size)
    total = spe * config.epochs
    out = []
    for i in range(points + 1):
        step = round(i * total / points)
        out.append((step / spe, config.lr * lr_multiplier(config, step, total)))
    return out
