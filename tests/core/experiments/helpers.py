"""Shared pieces of the experiment tests: a tiny, fast trial recipe and a recording reporter."""

from __future__ import annotations

from typing import Any

from core.experiments.trial import ExperimentReporter, TrialOutcome
from core.training.metrics import EpochMetrics, StartInfo

# Seconds per trial on a busy 2-core machine: the smallest net, 1,000 images, 2 epochs.
TINY: dict[str, Any] = {"epochs": 2, "train_subset": 1000, "test_subset": 500, "val_split": 200,
                        "batch_size": 50, "lr": 0.1, "compile": False, "device": "cpu"}
TINY_MODEL = "dl-tiny-1k"


class Recorder(ExperimentReporter):
    def __init__(self) -> None:
        self.started: list[tuple[str, StartInfo]] = []
        self.epochs: list[tuple[str, EpochMetrics]] = []
        self.finished: list[TrialOutcome] = []
        self.lines: list[str] = []

    def status(self, text: str) -> None:
        self.lines.append(text)

    def trial_started(self, key: str, info: StartInfo) -> None:
        self.started.append((key, info))

    def trial_epoch(self, key: str, metrics: EpochMetrics) -> None:
        self.epochs.append((key, metrics))

    def trial_finished(self, outcome: TrialOutcome) -> None:
        self.finished.append(outcome)


def metrics_of(history: list[dict[str, Any]]) -> list[tuple[float, ...]]:
    """The numbers that must match between executors (times excluded)."""
    keys = ("train_loss", "train_acc", "test_loss", "test_acc", "val_loss", "val_acc", "lr")
    return [tuple(m[k] for k in keys) for m in history]


def recorded_trial(store: Any, experiment: str, key: str, test_accs: list[float],
                   val_accs: list[float] | None = None, params: int = 7000,
                   status: str = "completed", error: str = "") -> str:
    """A run in `store` tagged as trial `key`, with the given per-epoch accuracies (for the
    statistics and report tests: they read records, they do not train)."""
    tag = {"name": experiment, "trial": key}
    run = store.create({"model": "dl-tiny-1k", "epochs": len(test_accs)}, params=params,
                       experiment=tag, name=f"{experiment} {key}")
    for epoch, acc in enumerate(test_accs, start=1):
        val = val_accs[epoch - 1] if val_accs else None
        run.record.history.append({
            "epoch": epoch, "train_loss": 0.1, "train_acc": 99.0, "test_loss": 0.05,
            "test_acc": acc, "val_loss": None if val is None else (100 - val) / 50,
            "val_acc": val, "lr": 0.01, "seconds": 2.0, "samples_per_s": 1000.0})
    run.record.epochs_done = len(test_accs)
    run.mark(status, error)
    return run.id
