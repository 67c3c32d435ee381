"""What the trainer reports: plain dataclasses (no torch, no Qt) to cross threads and go to disk."""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

from core.checks import MAX_ABS_NUMBER, count_problem, kind_of, number_problem
from core.fileio import from_saved

MAX_EPOCHS_IN_HISTORY = 100_000


@dataclass(frozen=True)
class StartInfo:
    model: str
    params: int
    device: str  # human-readable device name
    epochs: int
    steps_per_epoch: int
    n_train: int
    n_test: int
    start_epoch: int  # > 0 when resuming
    run_id: str
    time_budget: float = 0.0  # seconds, when the run trains to a time budget instead of epochs


@dataclass(frozen=True)
class StepMetrics:
    step: int  # optimizer steps since the start of the run
    epoch: float  # fractional epoch, for plotting on the same axis as epoch metrics
    loss: float  # mean training loss over the last `log_every` steps
    lr: float


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int  # 1-based
    train_loss: float
    train_acc: float  # %, on augmented batches
    test_loss: float
    test_acc: float  # %
    val_loss: float | None
    val_acc: float | None  # %, when a validation split is held out
    lr: float  # at the end of the epoch
    seconds: float  # wall time: training + evaluation, pauses excluded
    samples_per_s: float  # training throughput

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpochMetrics:
        return from_saved(cls, data)


# Accuracies are percentages; times and rates are not negative. Other metrics: finite numbers.
_RANGES: dict[str, tuple[float, float]] = {
    "train_acc": (0.0, 100.0), "test_acc": (0.0, 100.0), "val_acc": (0.0, 100.0),
    "seconds": (0.0, 1e9), "samples_per_s": (0.0, MAX_ABS_NUMBER),
    "train_loss": (0.0, MAX_ABS_NUMBER), "test_loss": (0.0, MAX_ABS_NUMBER),
    "val_loss": (0.0, MAX_ABS_NUMBER),
}
_NULLABLE = {"val_loss", "val_acc"}  # None when no validation split was held out
_NAMES = [f.name for f in fields(EpochMetrics)]
# A metric added later (with a default) may be missing from older records.
_OPTIONAL = _NULLABLE | {
    f.name for f in fields(EpochMetrics)
    if f.default is not MISSING or f.default_factory is not MISSING}


def _epoch_entry(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return f"must be an object, not {kind_of(entry)}"
    for name in _NAMES:
        if name not in entry:
            if name in _OPTIONAL:
                continue
            return f"lacks '{name}'"
        value = entry[name]
        if name == "epoch":
            problem = count_problem(value)
            if problem is None and not 1 <= value <= MAX_EPOCHS_IN_HISTORY:
                problem = f"must be between 1 and {MAX_EPOCHS_IN_HISTORY}"
        elif value is None and name in _NULLABLE:
            problem = None
        else:
            problem = number_problem(value, *_RANGES.get(name, (-MAX_ABS_NUMBER, MAX_ABS_NUMBER)))
        if problem:
            return f"'{name}' {problem}"
    return None


def history_problem(value: Any) -> str | None:
    if not isinstance(value, list):
        return f"must be a list, not {kind_of(value)}"
    if len(value) > MAX_EPOCHS_IN_HISTORY:
        return f"has more than {MAX_EPOCHS_IN_HISTORY:,} epochs"
    for i, entry in enumerate(value):
        problem = _epoch_entry(entry)
        if problem:
            return f"entry {i + 1} {problem}"
    return None
