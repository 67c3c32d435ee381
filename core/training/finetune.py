"""Teach it your hand (issue 16.3): fine-tune a trained model on one person's labelled digits.

The user's digits (My digits, or a folder of PNGs) are few: a few hundred at most, often 5 of
each. Fine-tuning on them alone would make the model forget MNIST, so every batch mixes them
(`user_share`, augmented) with MNIST training digits (replay, augmented as in training), the
BatchNorm statistics stay frozen (a batch of someone's 50 digits is no population to re-estimate
them from), and the steps are few and gentle (Adam, cosine-decayed). Part of each digit's images
is held back to report accuracy before and after, and the MNIST test set is scored before and
after (reported only; nothing is chosen on it). The result is exported to ONNX.

`finetune` is a plain function: it reports through `job.set_progress(text)` and stops when
`job.is_interruption_requested()` (app/shared/jobs.py's JobState, or `ConsoleJob`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.data.my_digits import labelled_pngs
from core.errors import ConfigError, ModelFileError
from core.paths import resources_dir

MIN_PER_DIGIT = 5  # drawings of each digit needed before fine-tuning is worth it
BUNDLED = "bundled"  # the base "run" name meaning the model DigitLab ships


class Job(Protocol):
    def set_progress(self, value: object) -> None: ...
    def is_interruption_requested(self) -> bool: ...


class ConsoleJob:
    """A `Job` for terminals and scripts: progress lines go to `print_fn`; never interrupted."""

    def __init__(self, print_fn: Any = print) -> None:
        self._print = print_fn

    def set_progress(self, value: object) -> None:
        if self._print is not None:
            self._print(str(value))

    def is_interruption_requested(self) -> bool:
        return False


class FinetuneStopped(Exception):
    """Raised inside `finetune` when the job asks it to stop; nothing is written."""


@dataclass(frozen=True)
class FinetuneSettings:
    """How the personal model is made; defaults chosen on validation writers (RESULTS.md)."""

    steps: int = 300  # optimizer steps (each a batch of user digits + MNIST replay)
    batch_size: int = 128
    user_share: float = 0.25  # share of every batch taken from the user's digits
    lr: float = 1e-3  # Adam, cosine-decayed to 0
    augment: float = 0.6  # affine augmentation strength for both sources (as the flagship's)
    holdout: float = 0.2  # share of each digit's images held back for before/after
    seed: int = 0


@dataclass(frozen=True)
class FinetuneResult:
    path: Path
    base: str  # what was fine-tuned
    n_train: int  # user digits fine-tuned on
    n_holdout: int  # user digits held back
    holdout_before: float  # % on the held-back digits, base model
    holdout_after: float  # % on the held-back digits, personal model
    mnist_before: float  # % on the 10,000 MNIST test digits
    mnist_after: float
    seconds: float

    def summary(self) -> str:
        return (f"Personal model written to {self.path}\n"
                f"  your held-back digits ({self.n_holdout}): {self.holdout_before:.1f}% → "
                f"{self.holdout_after:.1f}%  (fine-tuned on {self.n_train})\n"
                f"  MNIST test: {self.mnist_before:.2f}% → {self.mnist_after:.2f}% "
                f"({self.mnist_after - self.mnist_before:+.2f} points)  in {self.seconds:.0f} s")


def check_enough(labels: np.ndarray, minimum: int = MIN_PER_DIGIT) -> None:
    """ConfigError unless every digit 0–9 has at least `minimum` images."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=10)[:10]
    short = [f"{d} ({counts[d]} of {minimum})" for d in range(10) if counts[d] < minimum]
    if short:
        raise ConfigError(f"Teaching a model your hand needs at least {minimum} drawings of each "
                          f"digit; too few of: {', '.join(short)}. Save more in My digits "
                          f"(Draw tab) or add labelled PNGs.")


def split_holdout(labels: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held back): from each digit round(share · n) images, at least one."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for d in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == d))
        k = min(max(1, round(share * len(idx))), len(idx) - 1) if len(idx) > 1 else 0
        held.extend(idx[:k])
        train.extend(idx[k:])
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(held, dtype=np.int64))


def load_base(base: str, checkpoint: str = "last") -> tuple[dict[str, Any], str, str]:
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
    from core.runs.store import RunStore

    run = RunStore().get(base)  # unknown: RunNotFoundError, which says what exists
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
             settings: FinetuneSettings | None = None, *, checkpoint: str = "last",
             data_dir: str | None = None, job: Job | None = None) -> FinetuneResult:
    """Fine-tune `base` (a run id or name, or BUNDLED) on (N, 28, 28) float images in [0, 1]
    with labels (N,), replaying MNIST; export the personal model to `output` (ONNX)."""
    import torch

    from core.data.mnist import load_mnist
    from core.onnx_io.export import export_model, run_metadata
    from core.training.checkpoints import model_from_state

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
    mnist_before = _accuracy(model, test_x, test_y)
    held_before = _accuracy(model, user_x[held_idx], user_y[held_idx])
    _train(model, user_x[train_idx], user_y[train_idx],
           torch.from_numpy(np.array(mnist.train_images, dtype=np.uint8)),
           torch.from_numpy(mnist.train_labels.astype(np.int64)), settings, job)
    mnist_after = _accuracy(model, test_x, test_y)
    held_after = _accuracy(model, user_x[held_idx], user_y[held_idx])

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


def _accuracy(model: Any, images_u8: Any, labels: Any) -> float:
    """% of uint8 (N, 28, 28) images the model reads right (nan for none)."""
    import torch

    from core.training.evaluate import prepare_input

    if len(labels) == 0:
        return float("nan")
    model.eval()
    with torch.inference_mode():
        hits = sum(int((model(prepare_input(images_u8[i:i + 512], None, None)).argmax(1)
                        == labels[i:i + 512]).sum()) for i in range(0, len(labels), 512))
    return 100.0 * hits / len(labels)


def _train(model: Any, user_x: Any, user_y: Any, replay_x: Any, replay_y: Any,
           settings: FinetuneSettings, job: Job) -> None:
    """Adam on mixed batches (user digits + MNIST replay, both augmented), BatchNorm frozen."""
    import torch
    import torch.nn.functional as F

    from core.data.augment import AugmentSpec, augment_batch
    from core.data.mnist import MNIST_MEAN, MNIST_STD

    gen = torch.Generator().manual_seed(settings.seed)
    n_user = max(1, round(settings.batch_size * settings.user_share))
    n_replay = settings.batch_size - n_user
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.5 * (1 + np.cos(np.pi * min(s, settings.steps) / settings.steps)))
    spec = AugmentSpec(stroke=0.15)
    model.eval()  # frozen BatchNorm statistics; every weight still learns
    for step in range(settings.steps):
        if job.is_interruption_requested():
            raise FinetuneStopped("Fine-tuning stopped; no model was written.")
        u = torch.randint(len(user_y), (n_user,), generator=gen)
        r = torch.randint(len(replay_y), (n_replay,), generator=gen)
        x = torch.cat((user_x[u], replay_x[r])).unsqueeze(1).float().div_(255)
        y = torch.cat((user_y[u], replay_y[r]))
        x = augment_batch(x, settings.augment, gen, spec)
        loss = F.cross_entropy(model((x - MNIST_MEAN) / MNIST_STD), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 25 == 0 or step == settings.steps - 1:
            job.set_progress(f"Fine-tuning: step {step + 1}/{settings.steps}, "
                             f"loss {loss.item():.3f}")
    model.eval()


def finetune_from_folder(base: str, folder: Path, output: Path,
                         settings: FinetuneSettings | None = None, *, checkpoint: str = "last",
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
