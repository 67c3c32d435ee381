"""Test helpers: read the real MNIST IDX files and paint MNIST digits onto big canvases.

`paint_digit` imitates what a user draws on the canvas (any size, position, stroke width and
polarity), so preprocessing and accuracy tests can start from real handwriting with known labels.
numpy + Pillow only.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
from PIL import Image

from core.data.mnist import IMAGE_MAGIC, LABEL_MAGIC, read_idx

Polarity = Literal["white_on_black", "black_on_white"]
CanvasFormat = Literal["grey", "float", "rgb", "rgba"]


@lru_cache(maxsize=1)
def _load_test_set(folder: str) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(Path(folder) / "t10k-images-idx3-ubyte.gz", IMAGE_MAGIC)  # (10000, 28, 28)
    labels = read_idx(Path(folder) / "t10k-labels-idx1-ubyte.gz", LABEL_MAGIC)  # (10000,)
    return images, labels


def mnist_test_set(limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST test images (N, 28, 28) uint8 and labels (N,) from $DIGITLAB_DATA; skip if absent."""
    folder = os.environ.get("DIGITLAB_DATA")
    if not folder:
        pytest.skip("DIGITLAB_DATA is not set: point it at the folder with the MNIST .gz files")
    if not (Path(folder) / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"DIGITLAB_DATA={folder} has no t10k-images-idx3-ubyte.gz")
    images, labels = _load_test_set(folder)
    return (images, labels) if limit is None else (images[:limit], labels[:limit])


def _shift_extreme(img: np.ndarray, radius: int, op: np.ufunc) -> np.ndarray:
    """Grey dilation (op=np.maximum) or erosion (np.minimum) with a (2r+1)² square, numpy only.

    Separable: r shifts along rows, then along columns. Edges are padded with the image's
    own edge values so erosion does not eat ink that touches the border.
    """
    out = img
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="edge")
        n = out.shape[axis]
        acc = np.take(padded, range(0, n), axis=axis)
        for k in range(1, 2 * radius + 1):
            acc = op(acc, np.take(padded, range(k, k + n), axis=axis))
        out = acc
    return out


def paint_digit(
    digit28: np.ndarray,
    canvas_size: int = 280,
    *,
    fraction: float = 0.6,
    position: tuple[float, float] = (0.5, 0.5),
    stroke_delta: int = 0,
    polarity: Polarity = "white_on_black",
    fmt: CanvasFormat = "grey",
) -> np.ndarray:
    """Paint a 28×28 MNIST digit (white on black) onto a square canvas like a user would draw it.

    fraction: the digit's ink box, longer side, as a fraction of the canvas (0.25–0.9 in tests).
    position: (x, y) of the ink box centre as fractions of the canvas; clamped so the digit stays
        fully on the canvas.
    stroke_delta: canvas pixels; > 0 thickens the stroke (grey dilation, radius stroke_delta),
        < 0 thins it (grey erosion).
    polarity: "white_on_black" (MNIST-like) or "black_on_white" (paper-like).
    fmt: "grey" (H, W) uint8, "float" (H, W) float32 in [0, 1], "rgb" (H, W, 3) uint8, or
        "rgba" (H, W, 4) uint8 with a transparent background (0, 0, 0, 0) and opaque strokes
        whose colour follows the polarity (as a Qt ARGB32 canvas would hand it over).
    """
    d = np.asarray(digit28, dtype=np.float32)
    if d.max() > 1.0:
        d = d / 255.0
    rows = np.flatnonzero(d.max(axis=1) > 0)
    cols = np.flatnonzero(d.max(axis=0) > 0)
    if rows.size == 0:
        raise ValueError("digit28 holds no ink")
    box = d[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]  # (h, w) ink box
    h, w = box.shape
    scale = fraction * canvas_size / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    # Bicubic upscaling keeps the strokes smooth, as a pen would draw them; clip its overshoot.
    big = np.asarray(Image.fromarray(box).resize((new_w, new_h), Image.Resampling.BICUBIC))
    big = np.clip(big, 0.0, 1.0)

    ink = np.zeros((canvas_size, canvas_size), dtype=np.float32)
    x0 = round(position[0] * canvas_size - new_w / 2)
    y0 = round(position[1] * canvas_size - new_h / 2)
    x0 = min(max(x0, 0), canvas_size - new_w)
    y0 = min(max(y0, 0), canvas_size - new_h)
    ink[y0 : y0 + new_h, x0 : x0 + new_w] = big
    if stroke_delta:
        ink = _shift_extreme(ink, abs(stroke_delta), np.maximum if stroke_delta > 0 else np.minimum)

    if fmt == "rgba":
        colour = 255 if polarity == "white_on_black" else 0
        out = np.zeros((canvas_size, canvas_size, 4), dtype=np.uint8)
        out[..., :3] = np.where(ink[..., None] > 0, colour, 0)
        out[..., 3] = np.round(ink * 255)
        return out
    grey = ink if polarity == "white_on_black" else 1.0 - ink
    if fmt == "float":
        return grey.astype(np.float32)
    grey8 = np.round(grey * 255).astype(np.uint8)
    if fmt == "rgb":
        return np.repeat(grey8[..., None], 3, axis=2)
    return grey8
