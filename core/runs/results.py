"""A run's results as the Train tab shows them: test accuracy, confusion matrix, per-class
accuracy, and the misclassified test digits themselves (at most `GALLERY_LIMIT` of them).

Plain numpy out; torch is imported inside `run_results` (through `evaluate_run`), so call it
where that may take a second: a job thread in the GUI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.runs.store import RunStore

GALLERY_LIMIT = 120  # misclassified images kept; a poor run can have thousands


@dataclass(frozen=True)
class RunResults:
    run_id: str
    checkpoint: str
    accuracy: float  # %
    n_test: int
    confusion: np.ndarray  # (10, 10) int, rows = true digit, columns = predicted
    per_class: np.ndarray  # (10,) accuracy in %
    wrong_images: np.ndarray  # (K, 28, 28) uint8, K ≤ GALLERY_LIMIT
    wrong_index: np.ndarray  # (K,) test-set index
    wrong_true: np.ndarray  # (K,)
    wrong_pred: np.ndarray  # (K,)
    n_wrong: int  # all misclassified, also those not in the gallery
    checkpoint_label: str = ""  # e.g. "last checkpoint (epoch 15)" (core/runs/best.py)


def run_results(run_id: str, checkpoint: str | None = None,
                store: RunStore | None = None) -> RunResults:
    """Evaluate a stored run's checkpoint on (its share of) the test set, with its errors.
    None takes the run's default: best when picked on validation, else last."""
    from core.data.mnist import IMAGE_MAGIC, find_mnist_files, read_idx
    from core.paths import default_data_dir
    from core.runs.evaluation import evaluate_run

    run = (store or RunStore()).get(run_id)
    config = run.record.config
    folder = Path(config.get("data_dir") or default_data_dir())
    report = evaluate_run(run, checkpoint, data_dir=folder,
                          test_subset=int(config.get("test_subset") or 0))
    wrong = report.misclassified[:GALLERY_LIMIT]
    files = find_mnist_files(folder)  # evaluate_run just read them, so they are there
    test_images = read_idx(files["test_images"], IMAGE_MAGIC) if files else np.zeros((0, 28, 28))
    return RunResults(run.id, report.checkpoint, report.accuracy, len(report.labels),
                      report.confusion,
                      report.per_class, np.array(test_images[wrong], dtype=np.uint8), wrong,
                      report.labels[wrong], report.predictions[wrong],
                      len(report.misclassified), report.checkpoint_label)
