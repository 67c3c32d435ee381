"""What the trainer reports: plain dataclasses (no torch, no Qt) to cross threads and go to disk."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from core.fileio import from_saved


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
