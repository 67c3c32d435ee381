"""Teach it your hand: fine-tune a run (or the bundled model) on one person's labelled digits
and export the personal model (the training itself: core/training/finetune.py).

The MNIST test set is scored before and after (reported only; nothing is chosen on it), and so
are the user's held-back digits. `finetune` is a plain function: it reports through
`job.set_progress(text)` and stops when `job.is_interruption_requested()` (a core.jobs.Job: the
app's JobState, or `ConsoleJob`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from core.data.my_digits import labelled_pngs
from core.errors import ConfigError, ModelFileError
from core.jobs import ConsoleJob, Job
from core.paths import resources_dir
from core.training.finetune import (
    FinetuneResult,
    FinetuneSettings,
    accuracy,
    check_enough,
    split_holdout,
    train_on_user_digits,
)

BUNDLED = "bundled"  # the base "run" name meaning the model DigitLab ships


def load_base(base: str, checkpoint: str | None = None) -> tuple[dict[str, Any], str, str]:
    """(checkpoint state, description, key) of a run in the store (key: its id), or of the
    bundled model (key: BUNDLED)."""
    from core.training.checkpoints import load_checkpoint

    if base == BUNDLED:
        path = bundled_checkpoint_path()
        if not path.is_file():
            raise ModelFileError(f"This installation lacks the bundled model's checkpoint "
                                 f"({path.name}), so it cannot be fine-tuned: train a run (Train "
                                 f"tab or digitlab-cli train) and teach that one.")
        return load_checkpoint(path), "the bundled model", BUNDLED
    from core.runs.best import resolve_checkpoint
    from core.runs.store import RunStore

    run = RunStore().get(base)  # unknown: RunNotFoundError, which says what exists
    checkpoint = resolve_checkpoint(run.record, checkpoint)  # None: never one test picked
    return run.load_checkpoint(checkpoint), f"run {run.id} ({checkpoint} checkpoint)", run.id


def base_for(metadata: dict[str, str]) -> str:
    """What to fine-tune for a model file with this ONNX metadata: the base a personal model was
    made from, or the run a file was exported from, when that run is still in the store; else
    the bundled model (so teaching again starts from the base, never from a personal model)."""
    key = metadata.get("digitlab.base") or metadata.get("digitlab.run") or BUNDLED
    if key == BUNDLED:
        return BUNDLED
    from core.errors import DigitLabError
    from core.runs.store import RunStore

    try:
        return RunStore().get(key).id
    except DigitLabError:  # deleted, damaged or from another machine
        return BUNDLED


def bundled_checkpoint_path() -> Path:
    """The bundled ONNX model's training checkpoint (weights and config only), for fine-tuning."""
    return resources_dir() / "models" / "default.pt"


def finetune(base: str, images: np.ndarray, labels: np.ndarray, output: Path,
             settings: FinetuneSettings | None = None, *, checkpoint: str | None = None,
             data_dir: str | None = None, job: Job | None = None) -> FinetuneResult:
    """Fine-tune `base` (a run id or name, or BUNDLED) on (N, 28, 28) float images in [0, 1]
    with labels (N,), replaying MNIST; export the personal model to `output` (ONNX)."""
    import torch

    from core.data.mnist import load_mnist
    from core.onnx_io.export import export_model
    from core.training.checkpoints import model_from_state
    from core.workflows.export import run_metadata

    settings = settings or FinetuneSettings()
    job = job or ConsoleJob(None)
    t0 = time.perf_counter()
    images = np.asarray(images, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    check_enough(labels)
    state, described, key = load_base(base, checkpoint)
    job.set_progress(f"Loading MNIST for replay and scoring ({described})…")
    mnist = load_mnist(data_dir or state["config"].get("data_dir") or None)
    train_idx, held_idx = split_holdout(labels, settings.holdout, settings.seed)

    torch.manual_seed(settings.seed)
    model = model_from_state(state).cpu()
    # np.array copies: IDX buffers are read-only, torch wants writable memory.
    test_x = torch.from_numpy(np.array(mnist.test_images, dtype=np.uint8))
    test_y = torch.from_numpy(mnist.test_labels.astype(np.int64))
    user_x = torch.from_numpy(np.rint(images * 255).astype(np.uint8))
    user_y = torch.from_numpy(labels)
    mnist_before = accuracy(model, test_x, test_y)
    held_before = accuracy(model, user_x[held_idx], user_y[held_idx])
    train_on_user_digits(model, user_x[train_idx], user_y[train_idx],
                         torch.from_numpy(np.array(mnist.train_images, dtype=np.uint8)),
                         torch.from_numpy(mnist.train_labels.astype(np.int64)), settings, job)
    mnist_after = accuracy(model, test_x, test_y)
    held_after = accuracy(model, user_x[held_idx], user_y[held_idx])

    job.set_progress("Exporting the personal model…")
    params = sum(p.numel() for p in model.parameters())
    metadata = run_metadata(state, params)
    metadata.update({
        "digitlab.test_accuracy": f"{mnist_after:.2f}",
        "digitlab.finetuned_from": described,
        "digitlab.base": key,
        "digitlab.finetune": (f"{len(train_idx)} user digits, {settings.steps} steps, MNIST "
                              f"replay; held back {len(held_idx)}: {held_before:.1f}% -> "
                              f"{held_after:.1f}%"),
    })
    export_model(model, Path(output), metadata)
    return FinetuneResult(Path(output), described, len(train_idx), len(held_idx), held_before,
                          held_after, mnist_before, mnist_after, time.perf_counter() - t0)


def finetune_from_folder(base: str, folder: Path, output: Path,
                         settings: FinetuneSettings | None = None, *, checkpoint: str | None = None,
                         data_dir: str | None = None, job: Job | None = None
                         ) -> tuple[FinetuneResult, list[str]]:
    """`finetune` on the labelled PNGs under `folder` (see `labelled_pngs`); also returns the
    files skipped and why."""
    images, labels, skipped = labelled_pngs(Path(folder))
    if len(labels) == 0:
        raise ConfigError(f"No labelled digit images in {folder}: put PNGs in subfolders named "
                          f"0-9, or start each file name with its digit (7_mine.png).")
    return finetune(base, images, labels, output, settings, checkpoint=checkpoint,
                    data_dir=data_dir, job=job), skipped
