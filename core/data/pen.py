"""Pen geometry shared by the preprocessing and every pen renderer (numpy only; no Qt, no torch).

- `skeletonize`: Zhang–Suen thinning of ink masks to one-pixel centre lines, many images at once;
- `stroke_points`: a round pen of a given radius drawn along such centre lines, anti-aliased;
- `polyline_points`: pointer samples → dense points along the smooth path the Draw tab paints;
- `stroke_width`: an ink image's stroke width (ink mass / centre-line length), the quantity
  `MNIST_STROKE_WIDTH` states for MNIST itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Stroke width of MNIST digits in 28×28 pixels (ink box 20 px): ink mass / skeleton length,
# measured on the first 3,000 training digits thinned at 4× (median 2.59, 5–95 % 1.70–4.51;
# by class from 2.21 for 8s to 3.12 for 1s). Pen renderers draw at this width.
MNIST_STROKE_WIDTH = 2.6
MNIST_WIDTH_RANGE = (1.7, 4.5)  # 5th to 95th percentile of the same measurement

# Zhang–Suen neighbours P2..P9 (N, NE, E, SE, S, SW, W, NW) as (dy, dx); bit k of a code is P(k+2).
_OFFSETS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def _zhang_suen_tables() -> tuple[np.ndarray, np.ndarray]:
    """Deletion look-up tables (256,) bool for the two sub-iterations, indexed by neighbour code."""
    p = (np.arange(256)[:, None] >> np.arange(8)) & 1  # (256, 8): P2..P9
    count = p.sum(axis=1)
    transitions = ((p == 0) & (np.roll(p, -1, axis=1) == 1)).sum(axis=1)  # 0→1 around P2..P9,P2
    base = (count >= 2) & (count <= 6) & (transitions == 1)
    p2, p4, p6, p8 = p[:, 0], p[:, 2], p[:, 4], p[:, 6]
    first = base & (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
    second = base & (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
    return first, second


_TABLES = _zhang_suen_tables()


def skeletonize(masks: np.ndarray) -> np.ndarray:
    """(N, H, W) bool → Zhang–Suen skeleton (N, H, W) bool: 8-connected, one pixel wide.

    All images thin together, one shifted-array pass per neighbour; an image leaves the batch
    once a full iteration deletes nothing, so fat strokes do not slow down thin ones.
    """
    out = np.pad(np.asarray(masks, dtype=bool), ((0, 0), (1, 1), (1, 1))).astype(np.uint8)
    h, w = masks.shape[1:]
    idx, work = np.arange(len(out)), out
    while len(idx):
        changed = np.zeros(len(idx), dtype=bool)
        for table in _TABLES:
            code = np.zeros((len(idx), h, w), dtype=np.uint8)
            for k, (dy, dx) in enumerate(_OFFSETS):
                code |= work[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] << k
            delete = np.take(table, code) & (work[:, 1:-1, 1:-1] == 1)
            changed |= delete.any(axis=(1, 2))
            work[:, 1:-1, 1:-1][delete] = 0
        out[idx] = work
        idx, work = idx[changed], work[changed]
    return out[:, 1:-1, 1:-1].astype(bool)


def stroke_points(frames: np.ndarray, radius: np.ndarray | float) -> np.ndarray:
    """Centre-line points (B, H, W) bool, pen radius (B,) px → ink (B, H, W) float32 in [0, 1].

    Exact Euclidean distance to the nearest point within the largest radius (column pass then
    row pass, one shifted array per offset); ink fades over the last pixel, so edges are
    anti-aliased like a painted round pen.
    """
    frames = np.asarray(frames, dtype=bool)
    radius = np.broadcast_to(np.asarray(radius, dtype=np.float32), (len(frames),))
    h, w = frames.shape[1:]
    r = int(np.ceil(float(radius.max(initial=0.0)))) + 1
    big = np.float32(4 * r * r + 1)
    col = np.full(frames.shape, big, dtype=np.float32)  # squared distance along the column
    pad = np.pad(frames, ((0, 0), (r, r), (0, 0)))
    for dy in range(-r, r + 1):
        np.minimum(col, np.float32(dy * dy), out=col, where=pad[:, r + dy : r + dy + h])
    dist2 = np.full(frames.shape, big, dtype=np.float32)
    pad = np.pad(col, ((0, 0), (0, 0), (r, r)), constant_values=big)
    for dx in range(-r, r + 1):
        np.minimum(dist2, pad[:, :, r + dx : r + dx + w] + np.float32(dx * dx), out=dist2)
    ink = radius[:, None, None] + np.float32(0.5) - np.sqrt(dist2)
    return np.clip(ink, 0.0, 1.0, out=ink)


def polyline_points(points: Sequence[tuple[float, float]] | np.ndarray,
                    step: float = 1.0) -> np.ndarray:
    """Pointer samples (K, 2) as (x, y) → (M, 2) points at most `step` apart along the path the
    Draw tab paints through them: quadratic curves between segment midpoints, each sample the
    control point of its curve, straight ends (see `app.draw.canvas.stroke_path`).

    Every piece is a quadratic Bézier (a → c, control b; a straight end has b at its middle),
    all sampled in one vectorised pass at equal steps of its parameter.
    """
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(p) < 2:
        return p.copy()
    mids = (p[:-1] + p[1:]) / 2
    if len(p) == 2:
        a, b, c = p[:1], mids, p[1:]
    else:  # first sample → first midpoint, curves between midpoints, last midpoint → last sample
        a = np.concatenate((p[:1], mids[:-1], mids[-1:]))
        c = np.concatenate((mids[:1], mids[1:], p[-1:]))
        b = np.concatenate(((p[:1] + mids[:1]) / 2, p[1:-1], (mids[-1:] + p[-1:]) / 2))
    # |B'(t)| ≤ 2·max(|ab|, |bc|): that many samples per unit t keep them ≤ step apart.
    speed = 2 * np.maximum(np.hypot(*(b - a).T), np.hypot(*(c - b).T))
    n = np.maximum(1, np.ceil(speed / step).astype(np.int64))  # samples per piece, end excluded
    piece = np.repeat(np.arange(len(n)), n)
    t = (np.arange(len(piece)) - np.repeat(np.cumsum(n) - n, n)) / n[piece]
    t = t[:, None]
    out = (1 - t) ** 2 * a[piece] + 2 * (1 - t) * t * b[piece] + t**2 * c[piece]
    return np.concatenate((out, p[-1:]))


def stroke_width(ink: np.ndarray, level: float = 0.5) -> float:
    """Stroke width of one ink image (H, W) in [0, 1], in its pixels: ink mass / the length of
    the skeleton of `ink ≥ level` (0.0 for an image without ink).

    Use it at a resolution where strokes are several pixels wide (MNIST's figure was taken at 4×):
    the skeleton's pixel count measures length well only then.
    """
    mask = np.asarray(ink) >= level
    length = int(np.count_nonzero(skeletonize(mask[None])[0]))
    return float(np.asarray(ink, dtype=np.float64).sum()) / length if length else 0.0


def change_stroke_width(ink: np.ndarray, change: float, level: float = 0.5) -> np.ndarray:
    """One ink image (H, W) in [0, 1] with every stroke `change` px wider (dilation by a disc of
    radius change/2) or narrower (erosion, for change < 0), soft-edged, as (H + 2p, W + 2p)
    float32 with a margin p = ceil(|change|/2) + 1 the wider strokes may need.

    Growing or shrinking a round pen's stroke by a disc is drawing the same centre line with a
    pen that much wider or narrower: loops and gaps that are open stay open, ends move by the
    radius, and where a thick pen already filled a loop no new line is invented (re-drawing a
    blob's skeleton instead gave worse digits, see RESULTS).
    """
    k = abs(change) / 2
    pad = int(np.ceil(k)) + 1
    mask = np.pad(np.asarray(ink) >= level, pad)
    if change >= 0:  # within k of the ink, with a soft 1-px edge
        return stroke_points(mask[None], k)[0]
    # Ink that lies more than k inside the ink: 1 − (within k − 0.5 of the background).
    return 1.0 - stroke_points(~mask[None], max(k - 0.5, 0.0))[0]
