"""Real pen-drawn digits (UCI pendigits): 30 writers' strokes, split by writer, drawn two ways.

The file holds 7,494 digits written on a tablet by 30 people who are not in MNIST, as strokes:
exactly what the Draw tab's canvas gets from a mouse or a pen. They decide how drawn digits are
read, so they are split by writer, never by digit: a choice is judged on people it was not
tuned on.
- `TRAINING_WRITERS` (ids 1-20) may be trained or tuned on (`TrainConfig.pen_writers` adds
  their digits to the training set);
- `VALIDATION_WRITERS` (ids 21-30) are only measured: `digitlab-cli handwriting`, the benchmarks
  and every choice of canvas preprocessing, augmentation and training data.
Each digit is put on the 280-unit canvas at a random size and place (seeded, so a set is the
same everywhere) and read the two ways DigitLab reads drawings:
- "strokes": the Draw tab's path, `strokes_to_mnist`;
- "pixels": `predict`'s path, the strokes painted as an image with a round pen and read by
  `canvas_to_mnist`.
numpy + Pillow only. Source: E. Alpaydin and F. Alimoglu, "Pen-Based Recognition of Handwritten
Digits", UCI Machine Learning Repository (1998), CC BY 4.0.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.canvas import CANVAS_SIDE, canvas_to_mnist
from core.data.pen import polyline_points, stroke_points
from core.data.strokes import strokes_to_mnist
from core.errors import DatasetError
from core.fileio import read_untrusted

ENV_VAR = "DIGITLAB_PENDIGITS"
FILE_NAME = "pendigits_train_strokes.npz"
MAX_FILE_BYTES = 64 * 1024 * 1024  # the file is 0.8 MB; anything far larger is not it
TRAINING_WRITERS = tuple(range(1, 21))
VALIDATION_WRITERS = tuple(range(21, 31))
PATHS = ("strokes", "pixels")
SIZE_RANGE = (0.3, 0.9)  # the digit's taller side as a fraction of the canvas
PEN_RANGE = (8.0, 24.0)  # canvas units: the Draw tab's pen widths, for the painted images
EVAL_SEED = 20_001  # placement and pens of the measured sets

Predict = Callable[[np.ndarray], np.ndarray]  # (N, 28, 28) float32 → (N, 10) scores
Strokes = list[np.ndarray]  # one digit: (K, 2) float64 points (x right, y down) per stroke


@dataclass(frozen=True)
class PenDigits:
    """Digits as strokes in tablet units (y flipped to point down), with labels and writers."""

    strokes: list[Strokes]
    labels: np.ndarray  # (N,) int64
    writers: np.ndarray  # (N,) int64, ids 1-30

    def __len__(self) -> int:
        return len(self.labels)

    def of_writers(self, writers: Sequence[int]) -> PenDigits:
        keep = np.flatnonzero(np.isin(self.writers, np.asarray(writers)))
        return PenDigits([self.strokes[i] for i in keep], self.labels[keep], self.writers[keep])


def find_pendigits(folder: str | Path | None = None) -> Path:
    """The strokes file: in `folder`, else $DIGITLAB_PENDIGITS (a folder or the file itself)."""
    where = folder if folder is not None else os.environ.get(ENV_VAR, "")
    if not where:
        raise DatasetError(
            f"Real pen digits are not set up: download UCI pendigits as {FILE_NAME} (see "
            f"docs/HANDWRITING.md) and set {ENV_VAR} to its folder.")
    path = Path(where)
    if path.is_dir():
        path = path / FILE_NAME
    if not path.is_file():
        raise DatasetError(f"No {FILE_NAME} at {path}: set {ENV_VAR} to the folder that holds "
                           f"it.")
    return path


def load_pendigits(folder: str | Path | None = None) -> PenDigits:
    """All 30 writers' digits. DatasetError (one line, what to do) when missing or damaged."""
    import io

    path = find_pendigits(folder)
    try:
        raw = read_untrusted(path, MAX_FILE_BYTES)
        with np.load(io.BytesIO(raw), allow_pickle=False) as d:
            points = d["points"].astype(np.float64)
            stroke_at = d["stroke_offsets"].astype(np.int64)
            digit_at = d["digit_stroke_offsets"].astype(np.int64)
            labels = d["labels"].astype(np.int64)
            writers = d["writers"].astype(np.int64)
        if not (len(digit_at) == len(labels) + 1 == len(writers) + 1
                and digit_at[-1] <= len(stroke_at) and stroke_at[-1] <= len(points)):
            raise ValueError("offsets do not match")
    except (KeyError, ValueError, OSError) as e:
        raise DatasetError(f"{path} is not a pen digits file ({e}): download it again.") from e
    points[:, 1] = -points[:, 1]  # the tablet's y points up; the canvas's down
    strokes = [[points[stroke_at[s]:stroke_at[s + 1]] for s in range(digit_at[i], digit_at[i + 1])]
               for i in range(len(labels))]
    return PenDigits(strokes, labels, writers)


def place_on_canvas(strokes: Strokes, rng: np.random.Generator,
                    size_range: tuple[float, float] = SIZE_RANGE,
                    side: float = CANVAS_SIDE) -> Strokes:
    """One digit at a random size (its taller side `size_range` of the canvas) and place."""
    every = np.concatenate(strokes)
    low, high = every.min(axis=0), every.max(axis=0)
    height = max(float(high[1] - low[1]), 1e-9)
    scale = rng.uniform(*size_range) * side / height
    extent = (high - low) * scale
    scale *= min(1.0, 0.95 * side / max(float(extent.max()), 1e-9))  # a wide digit still fits
    extent = (high - low) * scale
    offset = rng.uniform(0, 1, size=2) * (side - extent)
    return [(s - low) * scale + offset for s in strokes]


def paint_strokes(strokes: Strokes, pen: float, side: int = CANVAS_SIDE) -> np.ndarray:
    """Strokes (canvas units) → (side, side) uint8 image, white ink on black, painted with a
    round pen `pen` units wide along the canvas's smooth path, anti-aliased: a PNG of them."""
    frame = np.zeros((1, side, side), dtype=bool)
    for stroke in strokes:
        xy = np.clip(np.rint(polyline_points(stroke, step=0.5)).astype(np.int64), 0, side - 1)
        frame[0, xy[:, 1], xy[:, 0]] = True
    return np.rint(stroke_points(frame, pen / 2)[0] * 255).astype(np.uint8)


def read_digits(digits: PenDigits, paths: Sequence[str] = PATHS,
                seed: int = EVAL_SEED) -> dict[str, np.ndarray]:
    """Each digit placed on the canvas (seeded) and read through each path → path → (N, 28, 28)
    float32 model inputs; a digit read as "no digit" is all zeros (and so never right)."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {p: [] for p in paths}
    blank = np.zeros((28, 28), dtype=np.float32)
    for strokes in digits.strokes:
        placed = place_on_canvas(strokes, rng)
        pen = rng.uniform(*PEN_RANGE)
        if "strokes" in out:
            image = strokes_to_mnist(placed)
            out["strokes"].append(blank if image is None else image)
        if "pixels" in out:
            image = canvas_to_mnist(paint_strokes(placed, pen))
            out["pixels"].append(blank if image is None else image)
    return {p: np.stack(v) if v else np.zeros((0, 28, 28), np.float32) for p, v in out.items()}


def training_digits(copies: int, seed: int = 0, folder: str | Path | None = None,
                    widths: tuple[float, float] = (1.7, 3.6)) -> tuple[np.ndarray, np.ndarray]:
    """The training writers' digits as extra training images: `copies` drawings of each, at a
    random canvas size and place and a random MNIST-range pen width (output px, the range of
    `pen_variants`), through the Draw tab's stroke path → (N, 28, 28) uint8, (N,) int64."""
    digits = load_pendigits(folder).of_writers(TRAINING_WRITERS)
    rng = np.random.default_rng([seed, 0x9E7])
    images, labels = [], []
    for _ in range(copies):
        for strokes, label in zip(digits.strokes, digits.labels, strict=True):
            image = strokes_to_mnist(place_on_canvas(strokes, rng), width=rng.uniform(*widths))
            if image is not None:
                images.append(np.rint(image * 255).astype(np.uint8))
                labels.append(label)
    return np.stack(images), np.asarray(labels, dtype=np.int64)


@dataclass(frozen=True)
class WriterReport:
    """A model's accuracy on real pen writers, per path (%), per digit and per writer."""

    n: int
    writers: tuple[int, ...]
    accuracy: dict[str, float]  # path → %
    per_digit: dict[str, dict[int, float]]  # path → digit → %
    per_writer: dict[str, dict[int, float]]  # path → writer id → %
    agreement: float  # % of digits both paths read as the same digit

    def to_dict(self) -> dict[str, object]:
        def rounded(d: dict[int, float]) -> dict[str, float]:
            return {str(k): round(v, 2) for k, v in d.items()}

        return {"n": self.n, "writers": list(self.writers),
                "accuracy": {p: round(a, 2) for p, a in self.accuracy.items()},
                "per_digit": {p: rounded(d) for p, d in self.per_digit.items()},
                "per_writer": {p: rounded(d) for p, d in self.per_writer.items()},
                "agreement": round(self.agreement, 2)}

    def table(self) -> str:
        lines = [f"real pen writers ({self.n:,} digits by {len(self.writers)} validation "
                 f"writers, UCI pendigits): " + ", ".join(
                     f"{p} {a:.2f}%" for p, a in self.accuracy.items())]
        for path in self.accuracy:
            digits = "  ".join(f"{d}:{a:.0f}" for d, a in self.per_digit[path].items())
            writers = " ".join(f"{a:.0f}" for a in self.per_writer[path].values())
            lines += [f"  {path}: per digit (%) {digits}",
                      f"  {path}: per writer (%) {writers}  (worst "
                      f"{min(self.per_writer[path].values()):.1f}%)"]
        if len(self.accuracy) > 1:
            lines.append(f"  the two paths read {self.agreement:.1f}% of the digits the same")
        return "\n".join(lines)


def evaluate_writers(predict: Predict, digits: PenDigits,
                     inputs: dict[str, np.ndarray] | None = None) -> WriterReport:
    """Score `predict` ((N, 28, 28) → (N, 10)) on `digits` read through each path (`inputs`
    from `read_digits`, made here when not given)."""
    inputs = inputs if inputs is not None else read_digits(digits)
    writers = tuple(int(w) for w in np.unique(digits.writers))
    accuracy, per_digit, per_writer, answers = {}, {}, {}, {}
    for path, images in inputs.items():
        blank = images.reshape(len(images), -1).max(axis=1) == 0
        answer = np.where(blank, -1, np.asarray(predict(images)).argmax(axis=1))
        hits = answer == digits.labels
        answers[path] = answer
        accuracy[path] = 100 * float(hits.mean())
        per_digit[path] = {d: 100 * float(hits[digits.labels == d].mean()) for d in range(10)}
        per_writer[path] = {w: 100 * float(hits[digits.writers == w].mean()) for w in writers}
    both = list(answers.values())
    agreement = 100 * float((both[0] == both[-1]).mean())
    return WriterReport(len(digits), writers, accuracy, per_digit, per_writer, agreement)
