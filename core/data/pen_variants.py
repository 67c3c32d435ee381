"""Pen re-drawings of MNIST's own training digits: writers beyond MNIST, made from MNIST (16.1).

MNIST's writers scanned ink; people on a canvas draw with a round pen, in their own proportions
and slant, and with styles MNIST has few of. Each training digit gets one alternate drawing:
1. its skeleton (Zhang–Suen at 3×, `pen_styles.digit_skeletons`): the path the pen followed;
2. style edits on some classes, from the digit's own skeleton: a bar across a 7's stem or a
   curled foot at its end, a flag or a base on a 1, a 4 closed at the top, a 9 whose loop is
   opened at the top or whose tail curls left (probabilities in STYLE_ODDS);
3. other pen dynamics: a smooth random displacement of the centre line (a different hand's
   curves, the pen width unchanged, unlike pixel warps), slant, proportions, rotation;
4. a round pen of a random MNIST-range width, drawn as the Draw tab draws strokes
   (`strokes.points_to_mnist`).
Training swaps an image for its alternate with probability `TrainConfig.augment_pen`
(`gather_batch`). The synthetic writers of `pen_digits` (the proxy) share none of this code
beyond the final pen. Alternates are cached under the user data folder, keyed by the images.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.data.pen_styles import digit_skeletons
from core.data.strokes import points_to_mnist
from core.fileio import check_regular_file, write_bytes_atomic
from core.paths import home_dir

if TYPE_CHECKING:
    import torch

    from core.data.mnist import DeviceSplit

VERSION = 1  # bump when the drawings change: old caches are then ignored
UPSAMPLE = 3  # skeleton pixels per MNIST pixel
PEN_WIDTHS = (1.7, 3.6)  # output px, uniform: MNIST's 5–95 % range is 1.7–4.5 (core.data.pen)
# (label, style) → probability that a training digit of that class gets the style edit.
STYLE_ODDS = {(7, "bar"): 0.3, (7, "foot"): 0.15, (1, "flag"): 0.3, (1, "base"): 0.2,
              (4, "closed"): 0.2, (9, "open-top"): 0.2, (9, "tail"): 0.2}
CHUNK = 512


def image_digests(images_u8: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N, 20) uint8 SHA-1 of each (image, label): what a digit's re-drawing depends on."""
    images_u8 = np.ascontiguousarray(images_u8, dtype=np.uint8)
    labels = np.asarray(labels).astype(np.uint8)
    return np.array([np.frombuffer(hashlib.sha1(img.tobytes() + bytes([int(lab)])).digest(),
                                   np.uint8) for img, lab in zip(images_u8, labels, strict=True)],
                    dtype=np.uint8).reshape(-1, 20)


def pen_variant_images(images_u8: np.ndarray, labels: np.ndarray, seed: int = 0,
                       progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(N, 28, 28) uint8 digits and (N,) labels → (N, 28, 28) uint8 pen re-drawings.

    Each digit's drawing depends only on the digit, its label and `seed` (its random numbers are
    seeded from its content), so any subset or order of a set gets the same drawings and a cache
    can serve every split. A digit without a skeleton (blank) keeps its own image.
    `progress(done, total)` is called after every chunk of 512.
    """
    images_u8 = np.asarray(images_u8, dtype=np.uint8)
    labels = np.asarray(labels).astype(np.int64)
    digests = image_digests(images_u8, labels)
    out = images_u8.copy()
    for lo in range(0, len(images_u8), CHUNK):
        hi = min(lo + CHUNK, len(images_u8))
        skeletons = digit_skeletons(images_u8[lo:hi], upsample=UPSAMPLE)
        sets, widths, where = [], [], []
        for i, skeleton in enumerate(skeletons):
            ys, xs = np.nonzero(skeleton)
            if len(xs) < 2:
                continue
            rng = np.random.default_rng(
                [seed, VERSION, int.from_bytes(digests[lo + i, :8].tobytes(), "little")])
            points = np.stack((xs, ys), axis=1).astype(np.float64)
            points = _edit_style(points, skeleton, int(labels[lo + i]), rng)
            sets.append(_new_dynamics(points, rng))
            widths.append(rng.uniform(*PEN_WIDTHS))
            where.append(lo + i)
        if sets:
            drawn = points_to_mnist(sets, np.asarray(widths))
            out[where] = np.rint(drawn * 255).astype(np.uint8)
        if progress is not None:
            progress(hi, len(images_u8))
    return out


def _endpoints(skeleton: np.ndarray) -> np.ndarray:
    """(K, 2) (x, y) of skeleton pixels with exactly one 8-neighbour."""
    s = np.pad(skeleton, 1).astype(np.uint8)
    h, w = skeleton.shape
    neighbours = sum(s[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
                     for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx)
    ys, xs = np.nonzero(skeleton & (neighbours == 1))
    return np.stack((xs, ys), axis=1).astype(np.float64)


def _segment(a: np.ndarray, b: np.ndarray, bend: np.ndarray | None = None) -> np.ndarray:
    """Points 0.5 px apart from a to b, straight or bowed through the control point `bend`."""
    control = (a + b) / 2 if bend is None else bend
    n = max(2, int(np.ceil((np.hypot(*(control - a)) + np.hypot(*(b - control))) / 0.5)))
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * a + 2 * (1 - t) * t * control + t**2 * b


def _at(point: np.ndarray, dx: float, dy: float) -> np.ndarray:
    return point + np.array([dx, dy])


def _edit_style(points: np.ndarray, skeleton: np.ndarray, label: int,
                rng: np.random.Generator) -> np.ndarray:
    """Add a style MNIST has few of to this digit's centre line, with STYLE_ODDS."""
    styles = [style for (digit, style), p in STYLE_ODDS.items()
              if digit == label and rng.random() < p]
    if not styles:
        return points
    low, high = points.min(axis=0), points.max(axis=0)
    w, h = max(high[0] - low[0], 1.0), high[1] - low[1]
    ends = _endpoints(skeleton)
    top = ends[ends[:, 1].argmin()] if len(ends) else points[points[:, 1].argmin()]
    bottom = ends[ends[:, 1].argmax()] if len(ends) else points[points[:, 1].argmax()]
    extra = []
    for style in styles:
        if style == "bar":  # across the stem a little below the middle
            y = low[1] + h * rng.uniform(0.45, 0.62)
            row = points[np.abs(points[:, 1] - y) < 1.5]
            if len(row):
                middle = np.array([row[:, 0].mean(), y])
                half, tilt = h * rng.uniform(0.15, 0.25), h * rng.uniform(-0.04, 0.02)
                extra.append(_segment(_at(middle, -half, -tilt), _at(middle, half, tilt)))
        elif style == "foot":  # the stem's end curls to the right
            reach = h * rng.uniform(0.15, 0.3)
            extra.append(_segment(bottom, _at(bottom, reach, -h * rng.uniform(0.0, 0.06)),
                                  bend=_at(bottom, reach * 0.2, h * rng.uniform(0.05, 0.1))))
        elif style == "flag":  # from the top, down to the left
            extra.append(_segment(top, _at(top, -h * rng.uniform(0.18, 0.35),
                                           h * rng.uniform(0.12, 0.3))))
        elif style == "base":
            half = h * rng.uniform(0.18, 0.32)
            extra.append(_segment(_at(bottom, -half, 0), _at(bottom, half, 0)))
        elif style == "closed":  # join the two highest ends (the arm's and the stem's)
            upper = ends[ends[:, 1] < low[1] + 0.5 * h]
            if len(upper) >= 2:
                a, b = upper[np.argsort(upper[:, 1])[:2]]
                if abs(a[0] - b[0]) > 0.2 * w:
                    extra.append(_segment(a, b))  # straight: a bowed join reads as a 9
        elif style == "open-top":  # a gap in the loop near its top, a little to the right
            centre = _at(points[points[:, 1].argmin()], w * rng.uniform(0.0, 0.2), 0)
            gap = (np.abs(points[:, 0] - centre[0]) < w * rng.uniform(0.12, 0.22)) & (
                points[:, 1] < low[1] + 0.18 * h)
            if gap.sum() < 0.25 * len(points):
                points = points[~gap]
        elif style == "tail":  # the tail's end curls to the left
            reach = w * rng.uniform(0.25, 0.45)
            extra.append(_segment(bottom, _at(bottom, -reach, -h * rng.uniform(0.02, 0.1)),
                                  bend=_at(bottom, -reach * 0.2, h * rng.uniform(0.04, 0.1))))
    return np.concatenate([points, *extra]) if extra else points


def _new_dynamics(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another hand's version of the centre line: a smooth random displacement (two random
    plane waves per axis, up to ~6 % of the size), then slant, proportions and rotation."""
    low, high = points.min(axis=0), points.max(axis=0)
    size = max(float((high - low).max()), 1.0)
    p = (points - low) / size  # (M, 2) in [0, 1]
    for axis in range(2):
        for _ in range(2):
            k = rng.normal(0, 2.5, 2)  # wave vector: ~1–3 bends across the digit
            amp = rng.uniform(0, 0.03)
            p[:, axis] += amp * np.sin(2 * np.pi * (p @ k) + rng.uniform(0, 2 * np.pi))
    slant = np.tan(np.radians(rng.uniform(-18, 22)))
    aspect = np.exp(rng.uniform(np.log(0.75), np.log(1.3)))
    turn = np.radians(rng.uniform(-8, 8))
    x = p[:, 0] * aspect + slant * (1 - p[:, 1])
    y = p[:, 1]
    c, s = np.cos(turn), np.sin(turn)
    return np.stack((x * c - y * s, x * s + y * c), axis=1)


# --------------------------------------------------------------------------- training side

def _cache_path(seed: int) -> Path:
    return home_dir() / "cache" / f"pen_variants-v{VERSION}-s{seed}.npz"


def cached_pen_variants(images_u8: np.ndarray, labels: np.ndarray, seed: int = 0,
                        status: Callable[[str], None] | None = None) -> np.ndarray:
    """`pen_variant_images`, remembered on disk digit by digit (keyed by `image_digests`), so
    any later split of the same digits reuses them: 60,000 digits take ~10 minutes on two busy
    CPU cores, and the file is 48 MB. A damaged cache is rebuilt."""
    path = _cache_path(seed)
    keys = np.zeros((0, 20), np.uint8)
    drawn = np.zeros((0, 28, 28), np.uint8)
    if path.is_file():
        try:
            check_regular_file(path, 256 * 2**20)  # our cache (48 MB): a plain file, no link
            with np.load(path, allow_pickle=False) as saved:
                keys, drawn = saved["keys"], saved["images"]
            if keys.shape[1:] != (20,) or drawn.shape[1:] != (28, 28) or len(keys) != len(drawn):
                raise ValueError("inconsistent cache")
        except (OSError, ValueError, KeyError):
            keys, drawn = np.zeros((0, 20), np.uint8), np.zeros((0, 28, 28), np.uint8)
    wanted = image_digests(images_u8, labels)
    index = {k.tobytes(): i for i, k in enumerate(keys)}
    at = np.array([index.get(k.tobytes(), -1) for k in wanted], dtype=np.int64)
    missing = np.flatnonzero(at < 0)
    if len(missing):
        if status is not None:
            status(f"Drawing pen variants of {len(missing):,} training digits (once; cached)…")
        new = pen_variant_images(np.asarray(images_u8)[missing], np.asarray(labels)[missing],
                                 seed)
        at[missing] = len(keys) + np.arange(len(missing))
        keys, drawn = np.concatenate((keys, wanted[missing])), np.concatenate((drawn, new))
        buffer = io.BytesIO()
        np.savez(buffer, keys=keys, images=drawn)
        with contextlib.suppress(OSError):  # a read-only home only costs the time next run
            write_bytes_atomic(path, buffer.getvalue())
    return drawn[at]


def attach_pen_variants(split: DeviceSplit, images_u8: np.ndarray, labels: np.ndarray,
                        status: Callable[[str], None] | None = None) -> DeviceSplit:
    """The training split with its pen re-drawings on the same device (`split.variants`)."""
    import dataclasses

    import torch

    variants = cached_pen_variants(images_u8, labels, status=status)
    return dataclasses.replace(
        split, variants=torch.from_numpy(variants).to(split.images.device))


def gather_batch(split: DeviceSplit, idx: torch.Tensor, fraction: float,
                 generator: torch.Generator) -> torch.Tensor:
    """uint8 (B, 28, 28) batch `idx` of the split, each image swapped for its pen re-drawing
    with probability `fraction` (no random numbers are drawn when there is nothing to swap)."""
    import torch

    images = split.images[idx]
    if fraction <= 0 or split.variants is None:
        return images
    swap = torch.rand(len(idx), generator=generator, device=images.device) < fraction
    return torch.where(swap[:, None, None], split.variants[idx], images)
