"""Pen-style proxy check: MNIST digits redrawn as pen strokes and replayed through the canvas.

Users draw with a round pen of one width; MNIST strokes are scanned ink of varying width. To
estimate accuracy on drawn digits, each MNIST digit is turned into the path a pen would follow
and drawn again:
1. upsample ×5 (cubic), binarise, thin to a one-pixel skeleton (Zhang–Suen, vectorised);
2. move the skeleton's points (slant = shear, proportions = x-scale, rotation), so a slanted
   digit keeps a round pen instead of a sheared one;
3. stroke them with a round pen (exact distance ≤ radius, soft 1-px edge = anti-aliasing) in a
   112×112 frame, resize onto a 280×280 canvas at the style's size and place, white on black;
4. `canvas_to_mnist`, exactly as the Draw tab does. A canvas it rejects ("no digit") becomes
   an all-zero image, which `evaluate_pen_styles` counts as a miss.
numpy + Pillow only; torch is imported inside `torch_predictor`.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from core.data.canvas import CANVAS_SIDE as CANVAS
from core.data.canvas import canvas_to_mnist
from core.data.mnist import normalize
from core.data.pen import skeletonize, stroke_points

UPSAMPLE = 5  # skeleton pixels per MNIST pixel: a 2-px MNIST stroke is 10 px wide when thinned
FRAME = 112  # side of the frame each digit is stroked in, before it is resized onto the canvas
MAX_EXTENT = 0.9  # a digit's longer side never exceeds 90 % of the canvas
Range = float | tuple[float, float]  # a fixed value, or (low, high) drawn uniformly per digit


@dataclass(frozen=True)
class PenStyle:
    """How the digits are redrawn. A (low, high) `Range` is drawn anew for every digit; slant,
    proportions and rotation add to whatever the MNIST writer did."""

    name: str
    description: str
    # Pen width / the digit's height. 0.11 is the Draw tab's 20-px pen on a 180-px digit.
    pen: float | None = 0.11  # None: uniform in pen_range, per digit
    pen_range: tuple[float, float] = (0.05, 0.22)
    slant: Range = 0.0  # shear in degrees; positive leans the top to the right
    x_scale: Range = 1.0  # horizontal stretch (proportions)
    rotation: Range = 0.0  # degrees, positive = counter-clockwise
    size: Range = 0.6  # the digit's height as a fraction of the canvas side
    random_position: bool = False  # anywhere on the canvas (else centred)


STYLES: tuple[PenStyle, ...] = (
    PenStyle("pen-thin", "uniform thin pen (6 % of the height)", pen=0.06),
    PenStyle("pen-medium", "uniform pen like the Draw tab's default (11 %)", pen=0.11),
    PenStyle("pen-thick", "uniform thick pen (20 %)", pen=0.20),
    PenStyle("slant-right", "medium pen, sheared +20° (top to the right)", slant=20.0),
    PenStyle("slant-left", "medium pen, sheared -15° (top to the left)", slant=-15.0),
    PenStyle("narrow", "medium pen, 0.65× as wide", x_scale=0.65),
    PenStyle("wide", "medium pen, 1.35× as wide", x_scale=1.35),
    PenStyle("mixed", "per digit: random pen, slant, proportions, rotation, size and place",
             pen=None, slant=(-15.0, 25.0), x_scale=(0.7, 1.35),
             rotation=(-10.0, 10.0), size=(0.3, 0.9), random_position=True),
)

def _cubic_upsample_matrix(n: int, factor: int) -> np.ndarray:
    """(n·factor, n) Keys cubic (a = -0.5) interpolation weights, pixel centres aligned."""
    pos = (np.arange(n * factor) + 0.5) / factor - 0.5
    m = np.zeros((n * factor, n), dtype=np.float32)
    for tap in range(-1, 3):
        src = np.floor(pos).astype(int) + tap
        t = np.abs(pos - src)
        wgt = np.where(t <= 1, 1.5 * t**3 - 2.5 * t**2 + 1, -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2)
        np.add.at(m, (np.arange(len(pos)), np.clip(src, 0, n - 1)), wgt * (t < 2))
    return m


def digit_skeletons(images_u8: np.ndarray, chunk: int = 256,
                    upsample: int = UPSAMPLE) -> np.ndarray:
    """(N, 28, 28) uint8 → (N, S, S) bool skeletons in `upsample`× MNIST pixels.

    Each digit's ink box (plus a blank 1-px border to thin from) is moved to the top left of a
    window just big enough for the largest box: thinning time grows with the area.
    """
    d = np.asarray(images_u8, dtype=np.float32) / 255
    ink = d > 0
    rows, cols = ink.any(axis=2), ink.any(axis=1)  # (N, 28) each
    top, left = rows.argmax(axis=1), cols.argmax(axis=1)
    height = np.where(rows.any(axis=1), 28 - rows[:, ::-1].argmax(axis=1) - top, 1)
    width = np.where(cols.any(axis=1), 28 - cols[:, ::-1].argmax(axis=1) - left, 1)
    span = int(max(height.max(initial=1), width.max(initial=1))) + 2
    padded = np.pad(d, ((0, 0), (1, span), (1, span)))  # box rows top..top+span-1 in padded
    at = np.arange(span)
    window = padded[np.arange(len(d))[:, None, None], (top[:, None] + at)[:, :, None],
                    (left[:, None] + at)[:, None, :]]  # (N, span, span)
    up = _cubic_upsample_matrix(span, upsample)
    parts = [skeletonize(up @ window[i : i + chunk] @ up.T > 0.5)
             for i in range(0, len(window), chunk)]
    return np.concatenate(parts) if parts else np.zeros((0, len(up), len(up)), dtype=bool)


def _sample(rng: np.random.Generator, value: Range, n: int) -> np.ndarray:
    return rng.uniform(*value, n) if isinstance(value, tuple) else np.full(n, float(value))


def draw_style(skeletons: np.ndarray, style: PenStyle, seed: int = 0) -> list[np.ndarray | None]:
    """Skeletons (N, S, S) bool → one 280×280 uint8 canvas per digit (None: no skeleton)."""
    n = len(skeletons)
    rng = np.random.default_rng([seed, zlib.crc32(style.name.encode())])
    pen = rng.uniform(*style.pen_range, n) if style.pen is None else np.full(n, style.pen)
    slant, x_scale = _sample(rng, style.slant, n), _sample(rng, style.x_scale, n)
    rot, size = np.radians(_sample(rng, style.rotation, n)), _sample(rng, style.size, n)
    place = rng.uniform(0, 1, (n, 2)) if style.random_position else np.full((n, 2), 0.5)

    d, y, x = np.nonzero(skeletons)  # every skeleton pixel, sorted by digit
    x = x * x_scale[d]
    x = x - np.tan(np.radians(slant[d])) * y  # y grows downwards: the top moves right
    x, y = x * np.cos(rot[d]) + y * np.sin(rot[d]), y * np.cos(rot[d]) - x * np.sin(rot[d])
    counts = np.bincount(d, minlength=n)
    has = counts > 0
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))[has]
    x0, y0 = np.zeros(n), np.zeros(n)
    x0[has], y0[has] = np.minimum.reduceat(x, starts), np.minimum.reduceat(y, starts)
    w, h = np.ones(n), np.ones(n)
    w[has] = np.maximum.reduceat(x, starts) - x0[has] + 1
    h[has] = np.maximum.reduceat(y, starts) - y0[has] + 1
    # Canvas pixels per skeleton pixel: the style's height, unless the longer side would not fit.
    to_canvas = np.minimum(size * CANVAS / h, MAX_EXTENT * CANVAS / (np.maximum(h, w) + pen * h))
    # Frame pixels per skeleton pixel: fill the frame; ≤ 1.5 keeps neighbouring points within
    # 2.1 px, which every pen (radius ≥ 2 px) closes.
    to_frame = np.minimum((FRAME - 4) / (np.maximum(h, w) + pen * h), 1.5)
    radius = np.maximum(pen * h * to_frame / 2, 2.0)

    canvases: list[np.ndarray | None] = [None] * n
    for lo in range(0, n, 128):  # bounded memory: 128 frames of 112×112 float32 at a time
        hi = min(lo + 128, n)
        sel = (d >= lo) & (d < hi)
        ds = d[sel]
        k = to_frame[ds]
        fy = np.rint((y[sel] - y0[ds]) * k + (FRAME - h[ds] * k) / 2).astype(int)
        fx = np.rint((x[sel] - x0[ds]) * k + (FRAME - w[ds] * k) / 2).astype(int)
        frames = np.zeros((hi - lo, FRAME, FRAME), dtype=bool)
        frames[ds - lo, np.clip(fy, 0, FRAME - 1), np.clip(fx, 0, FRAME - 1)] = True
        ink = stroke_points(frames, radius[lo:hi])
        for i in np.flatnonzero(has[lo:hi]) + lo:
            canvases[i] = _to_canvas(ink[i - lo], to_canvas[i] / to_frame[i], place[i])
    return canvases


def _to_canvas(ink: np.ndarray, scale: float, place: np.ndarray) -> np.ndarray:
    """Frame ink → 280×280 uint8 canvas, resized by `scale`, its box centred at `place` (0–1)
    of the room the box leaves free, so the digit always lies wholly on the canvas."""
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    size = (min(CANVAS, max(1, round(crop.shape[1] * scale))),
            min(CANVAS, max(1, round(crop.shape[0] * scale))))
    # Bilinear: interpolates when enlarging and averages areas when shrinking (Pillow widens
    # the filter), so the pen keeps its anti-aliased edge either way.
    big = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BILINEAR))
    canvas = np.zeros((CANVAS, CANVAS), dtype=np.uint8)
    top, left = (round(p * (CANVAS - s)) for p, s in zip(place[::-1], big.shape, strict=True))
    canvas[top : top + big.shape[0], left : left + big.shape[1]] = np.rint(
        np.clip(big, 0, 1) * 255).astype(np.uint8)
    return canvas


def pen_style_images(images_u8: np.ndarray, styles: tuple[PenStyle, ...] = STYLES,
                     seed: int = 0) -> dict[str, np.ndarray]:
    """(N, 28, 28) uint8 MNIST digits → {style name: (N, 28, 28) float32 in [0, 1]}.

    The same seed gives the same images. A canvas that `canvas_to_mnist` rejects as "no digit"
    becomes an all-zero image (a real one always peaks at 1): count it as a miss.
    """
    images_u8 = np.asarray(images_u8)
    if images_u8.ndim != 3 or images_u8.shape[1:] != (28, 28) or images_u8.dtype != np.uint8:
        raise ValueError(f"images must be (N, 28, 28) uint8 MNIST digits; got shape "
                         f"{images_u8.shape}, dtype {images_u8.dtype}")
    skeletons = digit_skeletons(images_u8)
    out = {}
    for style in styles:
        images = np.zeros((len(images_u8), 28, 28), dtype=np.float32)
        for i, canvas in enumerate(draw_style(skeletons, style, seed)):
            image = None if canvas is None else canvas_to_mnist(canvas)
            if image is not None:
                images[i] = image
        out[style.name] = images
    return out


@dataclass(frozen=True)
class HandwritingReport:
    n: int  # digits per style
    seed: int
    mnist_accuracy: float  # %, the same digits as MNIST has them
    accuracy: dict[str, float]  # %, per style; "no digit" counts as wrong
    no_digit: dict[str, int]  # canvases the preprocessing rejected, per style
    seconds: float  # time to build the styled images
    descriptions: dict[str, str] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        return float(np.mean(list(self.accuracy.values())))

    @property
    def worst(self) -> tuple[str, float]:
        name = min(self.accuracy, key=self.accuracy.__getitem__)
        return name, self.accuracy[name]

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "seed": self.seed, "mnist_accuracy": round(self.mnist_accuracy, 3),
                "accuracy": {k: round(v, 3) for k, v in self.accuracy.items()},
                "no_digit": self.no_digit, "mean": round(self.mean, 3),
                "worst": self.worst[0], "build_seconds": round(self.seconds, 2)}

    def table(self) -> str:
        width = max(len(name) for name in (*self.accuracy, "plain MNIST"))
        lines = [f"{'style':<{width}}  accuracy  vs MNIST  no digit  what",
                 f"{'plain MNIST':<{width}}  {self.mnist_accuracy:7.2f}%"]
        for name, acc in self.accuracy.items():
            lines.append(f"{name:<{width}}  {acc:7.2f}%  {acc - self.mnist_accuracy:+7.2f}  "
                         f"{self.no_digit[name]:8d}  {self.descriptions.get(name, '')}")
        worst, worst_acc = self.worst
        lines.append(f"mean over styles {self.mean:.2f}%, worst {worst} {worst_acc:.2f}% "
                     f"({self.n:,} digits per style, seed {self.seed}, built in "
                     f"{self.seconds:.1f} s)")
        return "\n".join(lines)


Predict = Callable[[np.ndarray], np.ndarray]  # (N, 28, 28) float32 → (N, 10) scores or (N,)


def _classes(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores)
    return scores.argmax(axis=1) if scores.ndim == 2 else scores.astype(np.int64)


def evaluate_pen_styles(predict: Predict, images_u8: np.ndarray, labels: np.ndarray,
                        n: int = 1000, styles: tuple[PenStyle, ...] = STYLES, seed: int = 0,
                        sets: dict[str, np.ndarray] | None = None) -> HandwritingReport:
    """Accuracy of `predict` on the first `n` digits, plain and in every pen style.

    `sets` reuses images already built by `pen_style_images` for these digits and seed (to
    check several models on one set); the report's `seconds` is then 0.
    """
    images_u8, labels = np.asarray(images_u8)[:n], np.asarray(labels)[:n].astype(np.int64)
    seconds = 0.0
    if sets is None:
        t0 = time.perf_counter()
        sets = pen_style_images(images_u8, styles, seed)
        seconds = time.perf_counter() - t0
    plain = _classes(predict(images_u8.astype(np.float32) / 255))
    accuracy, no_digit = {}, {}
    for style in styles:
        images = sets[style.name][: len(labels)]
        blank = images.reshape(len(images), -1).max(axis=1) == 0
        hits = (_classes(predict(images)) == labels) & ~blank
        accuracy[style.name] = 100 * float(hits.mean())
        no_digit[style.name] = int(blank.sum())
    return HandwritingReport(len(labels), seed, 100 * float((plain == labels).mean()), accuracy,
                             no_digit, seconds, {s.name: s.description for s in styles})


def torch_predictor(model: Any) -> Predict:
    """A torch digit model as a `Predict`: MNIST-normalised input, eval mode, CPU batches of 256."""
    import torch

    model.eval()
    device = next(model.parameters(), torch.empty(0)).device  # batches go where the model is

    def predict(images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).unsqueeze(1)
        with torch.inference_mode():
            out = [model(normalize(x[i : i + 256]).to(device)).float().cpu()
                   for i in range(0, len(x), 256)]
        return torch.cat(out).numpy() if out else np.zeros((0, 10), dtype=np.float32)

    return predict
