"""Evaluating a saved run on the test set: accuracy, per-class accuracy, confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.runs.best import checkpoint_label, resolve_checkpoint
from core.runs.store import Run


@dataclass
class EvalReport:
    run_id: str
    checkpoint: str  # "best" or "last"
    accuracy: float  # %
    loss: float
    confusion: np.ndarray  # (10, 10) int: rows = true digit, columns = predicted
    predictions: np.ndarray  # (N,) predicted digit per test image
    labels: np.ndarray  # (N,) true digit per test image
    checkpoint_label: str = ""  # what the checkpoint is and who chose it (core/runs/best.py)

    @property
    def per_class(self) -> np.ndarray:
        """(10,) accuracy in % for each true digit."""
        totals = self.confusion.sum(axis=1)
        return 100.0 * np.diag(self.confusion) / np.maximum(totals, 1)

    @property
    def misclassified(self) -> np.ndarray:
        """Indices into the test set of the wrongly classified images."""
        return np.flatnonzero(self.predictions != self.labels)

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run_id, "checkpoint": self.checkpoint,
                "checkpoint_label": self.checkpoint_label, "accuracy": self.accuracy,
                "loss": self.loss, "errors": len(self.misclassified),
                "per_class": [round(float(a), 3) for a in self.per_class],
                "confusion": self.confusion.tolist()}

    def to_text(self) -> str:
        label = self.checkpoint_label or f"{self.checkpoint} checkpoint"
        lines = [f"Run {self.run_id} ({label}): test accuracy "
                 f"{self.accuracy:.2f}% ({len(self.misclassified)} errors in "
                 f"{len(self.labels):,}), loss {self.loss:.4f}", "", "Per-class accuracy:"]
        lines += [f"  {d}: {a:6.2f}%  ({self.confusion[d].sum()} images)"
                  for d, a in enumerate(self.per_class)]
        lines += ["", "Confusion matrix (rows: true digit, columns: predicted):",
                  "      " + "".join(f"{d:>6}" for d in range(10))]
        lines += [f"  {d:>2}  " + "".join(f"{v:>6}" for v in row)
                  for d, row in enumerate(self.confusion)]
        return "\n".join(lines)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, classes: int = 10) -> np.ndarray:
    return np.bincount(labels * classes + predictions, minlength=classes * classes).reshape(
        classes, classes)


def evaluate_run(run: Run, checkpoint: str | None = None, data_dir: Path | str | None = None,
                 test_subset: int = 0) -> EvalReport:
    """Score checkpoint `checkpoint` of `run` on the test set; None takes the run's default
    (best when picked on validation, else last: core/runs/best.py)."""
    import torch

    from core.data.mnist import load_mnist, to_device
    from core.training.checkpoints import model_from_state
    from core.training.evaluate import evaluate
    from core.training.tta import with_tta

    checkpoint = resolve_checkpoint(run.record, checkpoint)
    state = run.load_checkpoint(checkpoint)
    # The weights and test-time rotations the run itself was evaluated with.
    model = with_tta(model_from_state(state), state["config"])
    folder = data_dir or state["config"].get("data_dir") or None
    data = load_mnist(folder).subset(0, test_subset)
    split = to_device(data.test_images, data.test_labels, torch.device("cpu"))
    loss, acc, pred = evaluate(model, split)
    labels = data.test_labels.astype(np.int64)
    predictions = pred.numpy().astype(np.int64)
    return EvalReport(run.id, checkpoint, acc, loss, confusion_matrix(labels, predictions),
                      predictions, labels, checkpoint_label(run.record, checkpoint))
