"""The pen-writer proxy: a fixed set of synthetic pen digits read the two ways DigitLab reads them.

`pen_digit_set` writes digits with the writers of `core.data.pen_digits` (seeded, so a set is
the same everywhere) and turns each into the model's 28×28 input twice:
- "strokes": the Draw tab's path, the pointer samples redrawn by `strokes_to_mnist`;
- "pixels": what `predict` sees, the digit painted on a 280×280 canvas with the writer's round
  pen (anti-aliased) and preprocessed by `canvas_to_mnist`.
Seeds: TEST_SEED is the proxy itself (reported by `digitlab-cli handwriting`, never used to
choose anything); VALIDATION_SEED is for choices; FINETUNE_SEED makes the writers who test
"teach it my hand". None of them is used by training (which re-draws MNIST, see
`core.data.pen_variants`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.data.canvas import CANVAS_SIDE, canvas_to_mnist
from core.data.pen import polyline_points, stroke_points
from core.data.pen_digits import Writer, make_writers, write_digit
from core.data.strokes import strokes_to_mnist

TEST_SEED = 16_004  # the proxy (issue 16.4): report only
VALIDATION_SEED = 16_001  # for choices (preprocessing band, training recipe)
FINETUNE_SEED = 16_003  # writers for measuring "teach it my hand"
PATHS = ("strokes", "pixels")

Predict = Callable[[np.ndarray], np.ndarray]  # (N, 28, 28) float32 → (N, 10) scores


@dataclass(frozen=True)
class PenDigitSet:
    """Synthetic pen digits: their inputs by path, labels and who wrote them in which style."""

    images: dict[str, np.ndarray]  # path → (N, 28, 28) float32; "no digit" is all zeros
    labels: np.ndarray  # (N,) int64
    writer: np.ndarray  # (N,) int: index into `writers`
    writers: list[Writer]
    seed: int

    def __len__(self) -> int:
        return len(self.labels)

    def allograph(self, i: int) -> str:
        return self.writers[int(self.writer[i])].allographs[int(self.labels[i])]

    def subset(self, mask: np.ndarray) -> PenDigitSet:
        return PenDigitSet({k: v[mask] for k, v in self.images.items()}, self.labels[mask],
                           self.writer[mask], self.writers, self.seed)


def paint_strokes(strokes: list[np.ndarray], pen: float,
                  canvas_side: int = CANVAS_SIDE) -> np.ndarray:
    """Strokes (canvas units) → (side, side) uint8 canvas, white ink on black, painted with a
    round pen `pen` units wide along the canvas's smooth path, anti-aliased."""
    frame = np.zeros((1, canvas_side, canvas_side), dtype=bool)
    for stroke in strokes:
        xy = np.rint(polyline_points(stroke, step=0.5)).astype(np.int64)
        xy = np.clip(xy, 0, canvas_side - 1)
        frame[0, xy[:, 1], xy[:, 0]] = True
    ink = stroke_points(frame, pen / 2)[0]
    return np.rint(ink * 255).astype(np.uint8)


def pen_digit_set(seed: int = TEST_SEED, n_writers: int = 40, per_digit: int = 5,
                  paths: tuple[str, ...] = PATHS,
                  writers: list[Writer] | None = None) -> PenDigitSet:
    """`per_digit` samples of every digit by each of `n_writers` writers (seed `seed`), or by
    the given `writers`. The same arguments give the same set."""
    writers = writers if writers is not None else make_writers(n_writers, seed)
    rng = np.random.default_rng([seed, 0xD161])
    images: dict[str, list[np.ndarray]] = {p: [] for p in paths}
    labels, who = [], []
    blank = np.zeros((28, 28), dtype=np.float32)
    for w, writer in enumerate(writers):
        for _ in range(per_digit):
            for label in range(10):
                strokes = write_digit(writer, label, rng)
                if "strokes" in images:
                    image = strokes_to_mnist(strokes)
                    images["strokes"].append(blank if image is None else image)
                if "pixels" in images:
                    image = canvas_to_mnist(paint_strokes(strokes, writer.pen))
                    images["pixels"].append(blank if image is None else image)
                labels.append(label)
                who.append(w)
    return PenDigitSet({k: np.stack(v) for k, v in images.items()},
                       np.asarray(labels, dtype=np.int64), np.asarray(who), writers, seed)


@dataclass(frozen=True)
class PenProxyReport:
    """Accuracy in % per path; per class and per allograph for the strokes path."""

    n: int
    n_writers: int
    seed: int
    accuracy: dict[str, float]  # path → %
    per_class: dict[int, float]  # strokes path
    per_allograph: dict[str, float]  # "7 barred" → %, strokes path
    worst_writer: float  # strokes path, % of the writer read worst
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "writers": self.n_writers, "seed": self.seed,
                "accuracy": {k: round(v, 2) for k, v in self.accuracy.items()},
                "per_class": {str(k): round(v, 2) for k, v in self.per_class.items()},
                "per_allograph": {k: round(v, 2) for k, v in self.per_allograph.items()},
                "worst_writer": round(self.worst_writer, 2),
                "build_seconds": round(self.seconds, 1)}

    def table(self, worst: int = 6) -> str:
        paths = ", ".join(f"{p} {a:.2f}%" for p, a in self.accuracy.items())
        classes = "  ".join(f"{d}:{a:.0f}" for d, a in self.per_class.items())
        hardest = sorted(self.per_allograph.items(), key=lambda kv: kv[1])[:worst]
        return "\n".join([
            f"pen writers ({self.n:,} digits by {self.n_writers} synthetic writers, seed "
            f"{self.seed}): {paths}",
            f"  per digit (strokes, %): {classes}",
            "  hardest styles (strokes): " + ", ".join(f"{k} {v:.0f}%" for k, v in hardest),
            f"  worst writer {self.worst_writer:.1f}%"])


def evaluate_pen_proxy(predict: Predict, data: PenDigitSet | None = None) -> PenProxyReport:
    """Score `predict` on the proxy set (built here from TEST_SEED unless `data` is given)."""
    t0 = time.perf_counter()
    data = data if data is not None else pen_digit_set()
    seconds = time.perf_counter() - t0
    accuracy, hits_by_path = {}, {}
    for path, images in data.images.items():
        blank = images.reshape(len(images), -1).max(axis=1) == 0
        hits = (np.asarray(predict(images)).argmax(axis=1) == data.labels) & ~blank
        accuracy[path] = 100 * float(hits.mean())
        hits_by_path[path] = hits
    hits = hits_by_path.get("strokes", next(iter(hits_by_path.values())))
    per_class = {d: 100 * float(hits[data.labels == d].mean()) for d in range(10)}
    styles = np.array([f"{data.labels[i]} {data.allograph(i)}" for i in range(len(data))])
    per_allograph = {s: 100 * float(hits[styles == s].mean()) for s in sorted(set(styles))}
    per_writer = [hits[data.writer == w].mean() for w in range(len(data.writers))]
    return PenProxyReport(len(data), len(data.writers), data.seed, accuracy, per_class,
                          per_allograph, 100 * float(min(per_writer)), seconds)
