"""Teach it your hand: fine-tune a trained model on one person's labelled digits (the training
part; `core.workflows.finetune` finds the base model, scores it and exports the result).

The user's digits (My digits, or a folder of PNGs) are few: a few hundred at most, often 5 of
each. Fine-tuning on them alone would make the model forget MNIST, so every batch mixes them
(`user_share`, augmented) with MNIST training digits (replay, augmented as in training), the
BatchNorm statistics stay frozen (a batch of someone's 50 digits is no population to re-estimate
them from), and the steps are few and gentle (Adam, cosine-decayed), each one the trainer's own
`optimizer_step`. Part of each digit's images is held back to report accuracy before and after.

torch is imported inside the functions that use it: the Draw tab reads MIN_PER_DIGIT at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.jobs import Job

MIN_PER_DIGIT = 3  # drawings of each digit needed: 3 lifted real writers to ~99% (RESULTS.md)


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
        held = (f"  your held-back digits ({self.n_holdout}): {self.holdout_before:.1f}% → "
                f"{self.holdout_after:.1f}%  (fine-tuned on {self.n_train})\n" if self.n_holdout
                else f"  fine-tuned on all {self.n_train} of your digits (with {MIN_PER_DIGIT + 1}"
                     f" or more of each, some are held back to score before and after)\n")
        return (f"Personal model written to {self.path}\n" + held +
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
    """Indices (train, held back): from each digit round(share · n) images, at least one, but
    never so many that fewer than MIN_PER_DIGIT remain to teach with (with only MIN_PER_DIGIT
    drawings all of them teach); share 0 holds nothing back."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for d in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == d))
        k = max(0, min(max(1, round(share * len(idx))), len(idx) - MIN_PER_DIGIT)) if share else 0
        held.extend(idx[:k])
        train.extend(idx[k:])
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(held, dtype=np.int64))


def accuracy(model: Any, images_u8: Any, labels: Any) -> float:
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


def train_on_user_digits(model: Any, user_x: Any, user_y: Any, replay_x: Any, replay_y: Any,
                         settings: FinetuneSettings, job: Job) -> None:
    """Adam on mixed batches of uint8 digits (the user's + MNIST replay, both augmented),
    BatchNorm frozen; raises FinetuneStopped when the job asks to stop."""
    import torch

    from core.data.augment import Augmentation, AugmentSpec
    from core.training.evaluate import prepare_input
    from core.training.steps import optimizer_step

    gen = torch.Generator().manual_seed(settings.seed)
    n_user = max(1, round(settings.batch_size * settings.user_share))
    n_replay = settings.batch_size - n_user
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.5 * (1 + np.cos(np.pi * min(s, settings.steps) / settings.steps)))
    augmentation = Augmentation(strength=settings.augment, spec=AugmentSpec(stroke=0.15))
    model.eval()  # frozen BatchNorm statistics; every weight still learns
    for step in range(settings.steps):
        if job.is_interruption_requested():
            raise FinetuneStopped("Fine-tuning stopped; no model was written.")
        u = torch.randint(len(user_y), (n_user,), generator=gen)
        r = torch.randint(len(replay_y), (n_replay,), generator=gen)
        x = prepare_input(torch.cat((user_x[u], replay_x[r])), augmentation, gen)
        y = torch.cat((user_y[u], replay_y[r]))
        loss, _ = optimizer_step(model, optimizer, schedule, x, y)
        if step % 25 == 0 or step == settings.steps - 1:
            job.set_progress(f"Fine-tuning: step {step + 1}/{settings.steps}, "
                             f"loss {loss.item():.3f}")
    model.eval()
