"""Drawn strokes → the MNIST-style 28×28 digit, drawn again at MNIST's scale and stroke width.

The Draw tab knows the path of every stroke, so it need not shrink a 280-px painting whose pen
may be as wide as a small digit is tall (a small 3 drawn with the default pen became a blob and
read as 8). Instead the centre lines are redrawn the way MNIST digits look:
1. the pointer samples become the smooth path the canvas paints (`pen.polyline_points`);
2. the centre lines' bounding box is scaled so that, with the pen, its longer side is 20 px
   (aspect kept), whatever size the digit was drawn at;
3. a round pen of MNIST's stroke width (`pen.MNIST_STROKE_WIDTH`), whatever pen the user chose,
   draws them at 4× resolution (exact distance, soft edge), which is then area-averaged to 20 px:
   anti-aliased grey edges like MNIST's;
4. the centre of mass goes to (14, 14), as `canvas_to_mnist` does.
A drawing whose ink (centre lines plus the pen) spans less than 12 % of the canvas, as
`canvas_to_mnist` measures a painted one, is "no digit"; so is a click or a dot of a fat pen, whose
centre lines span under 4 %.
numpy + Pillow only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.data.canvas import BOX, CANVAS_SIDE, MIN_EXTENT, ink_box_to_mnist
from core.data.pen import MNIST_STROKE_WIDTH, polyline_points, stroke_points

SUPERSAMPLE = 4  # drawing resolution per output pixel: 4×4 samples average into each grey level
Polyline = Sequence[tuple[float, float]] | np.ndarray  # (K, 2) points (x, y) in canvas units


MIN_LINE_EXTENT = 0.04  # of the canvas: the centre lines of a click or a dot span less


def strokes_to_mnist(strokes: Sequence[Polyline], *, canvas_side: float = CANVAS_SIDE,
                     width: float = MNIST_STROKE_WIDTH, pen: float = 0.0) -> np.ndarray | None:
    """Polylines in canvas units (x right, y down) → (28, 28) float32 in [0, 1], white on black.

    `width` is the pen's width in output pixels (of a 28×28 digit whose ink box is 20 px); the
    width the strokes were drawn with (`pen`, canvas units) plays no part in the image. Returns
    None ("no digit") when there is no stroke, when the ink's box (the centre lines' box grown
    by the pen) spans less than `MIN_EXTENT` of `canvas_side` on its longer side, the test
    `canvas_to_mnist` makes of a painted canvas, so a small digit drawn with a wide pen is read
    as its painting would be; or when the centre lines span less than `MIN_LINE_EXTENT` (a click
    or a dot, however fat the pen).
    """
    paths = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes]
    paths = [p for p in paths if len(p) and np.isfinite(p).all()]
    if not paths:
        return None
    every = np.concatenate(paths)
    extent = float((every.max(axis=0) - every.min(axis=0)).max())
    if extent + pen < MIN_EXTENT * canvas_side or extent < MIN_LINE_EXTENT * canvas_side:
        return None
    # Samples ≤ 0.5 frame px apart once scaled (the smooth path stays inside the samples' box).
    step = 0.5 * extent / (BOX * SUPERSAMPLE - width * SUPERSAMPLE)
    points = np.concatenate([polyline_points(p, step) for p in paths])
    return points_to_mnist([points], np.array([width]))[0]


def points_to_mnist(point_sets: Sequence[np.ndarray], widths: np.ndarray) -> np.ndarray:
    """Dense centre-line points, one (M, 2) array of (x, y) per digit in any common unit, and
    pen widths (B,) in output pixels → (B, 28, 28) float32 MNIST-style digits.

    Each set is scaled so its box plus the pen spans BOX·SUPERSAMPLE frame px on the longer side,
    marked in a frame, stroked with a round pen (all frames at once) and then area-averaged to
    20 px and centred by `ink_box_to_mnist`. Points must lie ≤ ~2 frame px apart once scaled
    (the narrowest pen, 1.5 px, closes such gaps).
    """
    widths = np.asarray(widths, dtype=np.float64).reshape(-1)
    pens = widths * SUPERSAMPLE  # frame pixels
    margin = int(np.ceil(pens.max(initial=0.0) / 2)) + 2
    side = BOX * SUPERSAMPLE + 2 * margin
    frames = np.zeros((len(point_sets), side, side), dtype=bool)
    for i, (points, pen) in enumerate(zip(point_sets, pens, strict=True)):
        low = points.min(axis=0)
        extent = max(float((points.max(axis=0) - low).max()), 1e-9)
        scale = (BOX * SUPERSAMPLE - pen) / extent  # frame pixels per unit
        xy = np.rint((points - low) * scale + (margin + pen / 2)).astype(np.int64)
        xy = np.clip(xy, 0, side - 1)
        frames[i, xy[:, 1], xy[:, 0]] = True
    ink = stroke_points(frames, pens / 2)  # (B, side, side)
    out = np.zeros((len(point_sets), 28, 28), dtype=np.float32)
    for i, one in enumerate(ink):
        rows, cols = np.flatnonzero(one.any(axis=1)), np.flatnonzero(one.any(axis=0))
        out[i] = ink_box_to_mnist(one[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    return out
