"""Turn a drawn canvas into an MNIST-style 28×28 digit (numpy + Pillow only; no Qt, no torch).

MNIST digits were made like this (see the guide): the ink's bounding box was scaled so its longer
side is 20 px, preserving the aspect ratio, with anti-aliasing (grey levels); the result was placed
in a 28×28 field so that the ink's centre of mass sits at the centre, white ink on black. A drawn
digit must go through the same steps or small, off-centre, thin or thick digits are misread.

Pipeline of `canvas_to_mnist` (all vectorised; only the ink box is resized):
1. canvas → ink map (H, W) float32 in [0, 1], 1 = full ink, whatever the format and polarity;
2. ink mask (ink ≥ INK_LEVEL) without isolated pixels → "no digit" checks → ink bounding box;
3. strokes far thinner than MNIST's once scaled (a thin pen on a big digit) are grown to
   MNIST's width (`normalise_stroke_width`);
4. crop → Pillow resize (longer side 20 px, area-averaging when shrinking) → peak ink = 1;
5. paste into 28×28 at the whole-pixel offset that puts the centre of mass nearest (14, 14).
The Draw tab, which knows its strokes, redraws them instead (`core.data.strokes`).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from core.data.pen import MNIST_STROKE_WIDTH, change_stroke_width, stroke_width

CANVAS_SIDE = 280  # the Draw tab's drawing square, in canvas units (strokes live in these)
SIZE = 28  # output side
BOX = 20  # the ink box's longer side after scaling, as in MNIST
CENTRE = 14.0  # where the centre of mass lands, in pixel-index coordinates (MNIST's own mean)

INK_LEVEL = 0.2  # a pixel is ink when ≥ 20 % of the way from the background to full contrast
NOISE_FLOOR = 0.1  # fainter values inside the ink box are background haze: set to 0
DEFAULT_MIN_INK = 0.001  # ≥ 0.1 % of the canvas area must be ink (78 px on a 280×280 canvas)
MIN_EXTENT = 0.12  # the ink box's longer side must span ≥ 12 % of the canvas's shorter side
# Stroke widths (output pixels) left as drawn; outside, the strokes are grown or shrunk to
# MNIST_STROKE_WIDTH. Chosen on validation (bundled model; RESULTS.md): growing strokes thinner
# than 1.0 px (no MNIST training digit of 3,000 measures under 1.1 here) read big thin-pen
# digits better (96.7 → 97.3 %) and changed nothing else; shrinking thick ones never helped (a
# pen that filled a loop lost it for good: small thick digits 60.0 → 56–59 %) and cost MNIST's
# own digits 0.15 points.
WIDTH_BAND = (1.0, math.inf)
WORK_SCALE = 4  # stroke widths are measured with the ink box's longer side at 4 × 20 px


def ink_map(canvas: np.ndarray) -> np.ndarray:
    """Any supported canvas → (H, W) float32 in [0, 1] where 1 is full ink and 0 is background.

    Accepts (H, W) grey uint8 0–255 or float 0–1 (a float canvas whose maximum exceeds 1 is
    taken as 0–255), (H, W, 3) RGB uint8 and (H, W, 4) RGBA uint8.
    RGBA whose border is mostly transparent (a Qt canvas filled with Qt.transparent) uses the
    alpha channel as the ink, whatever the stroke colour. Everything else is reduced to grey and
    the background level is the median of the 1-px border (a digit rarely covers half the
    border); ink is the distance from that level, scaled so the far end of the grey range is 1.
    This handles white-on-black, black-on-white and grey backgrounds alike; a uniform canvas of
    any grey has no ink at all.
    """
    a = np.asarray(canvas)
    if a.ndim == 3 and a.shape[2] in (3, 4) and a.dtype == np.uint8:
        if a.shape[2] == 4:
            alpha = a[..., 3]
            if np.median(_border(alpha)) < 128:  # transparent background, opaque strokes
                return alpha.astype(np.float32) * np.float32(1 / 255)
            # Opaque background: composite over white so semi-transparent pixels fade out.
            grey = _luma(a[..., :3]) * np.float32(1 / 255)
            grey = 1.0 - (alpha.astype(np.float32) * np.float32(1 / 255)) * (1.0 - grey)
        else:
            grey = _luma(a) * np.float32(1 / 255)
    elif a.ndim == 2 and a.dtype == np.uint8:
        grey = a.astype(np.float32) * np.float32(1 / 255)
    elif a.ndim == 2 and np.issubdtype(a.dtype, np.floating):
        grey = np.nan_to_num(a.astype(np.float32))
        if grey.max() > 1.0 + 1e-3:  # a float image in 0–255 (e.g. uint8 cast): rescale
            grey *= np.float32(1 / 255)
        np.clip(grey, 0.0, 1.0, out=grey)
    else:
        raise ValueError(
            f"canvas has shape {a.shape} and dtype {a.dtype}; expected (H, W) uint8 or float, "
            "or (H, W, 3|4) uint8"
        )
    if grey.shape[0] < 2 or grey.shape[1] < 2:
        raise ValueError(f"canvas of shape {a.shape} is too small; it needs at least 2×2 pixels")
    bg = float(np.median(_border(grey)))
    # |grey - bg| serves dark ink on light paper, light ink on dark, and either on mid-grey; the
    # scale makes the far end of the grey range (black on white, white on black) exactly 1.
    ink = np.abs(grey - np.float32(bg))
    ink *= np.float32(1.0 / max(bg, 1.0 - bg))
    return np.clip(ink, 0.0, 1.0, out=ink)


def ink_fraction(canvas: np.ndarray) -> float:
    """Fraction of the canvas area that counts as ink (isolated pixels ignored), 0.0–1.0."""
    mask = _solid_mask(ink_map(canvas))
    return float(np.count_nonzero(mask)) / mask.size


def canvas_to_mnist(canvas: np.ndarray, *, min_ink: float = DEFAULT_MIN_INK) -> np.ndarray | None:
    """Canvas (any size, format and polarity) → (28, 28) float32 in [0, 1], white ink on black.

    Returns None ("no digit", never a guess) when the canvas is blank or near-blank:
    - fewer than `min_ink` × H × W ink pixels (default 0.1 %: 78 px on 280×280, far less than
      any digit drawn at a quarter of the canvas height, more than scattered noise), or
    - the ink box's longer side spans < 12 % of the canvas's shorter side (a dot or a speck,
      even a fat one: 34 px on 280×280, while a digit drawn at 25 % of the canvas is 70 px).
    Isolated ink pixels (no 4-neighbour that is ink too) are ignored for both checks and for the
    ink box, so salt noise neither counts as a digit nor stretches the box.
    """
    ink = ink_map(canvas)  # (H, W) float32, 1 = ink
    mask = _solid_mask(ink)  # (H, W) bool
    height, width = mask.shape
    if np.count_nonzero(mask) < max(min_ink * mask.size, 1):
        return None
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    if max(bottom - top, right - left) < MIN_EXTENT * min(height, width):
        return None

    crop = ink[top:bottom, left:right].copy()  # (h, w): only the ink box is resized
    crop[crop < NOISE_FLOOR] = 0.0
    return ink_box_to_mnist(normalise_stroke_width(crop))


def normalise_stroke_width(crop: np.ndarray, band: tuple[float, float] | None = None,
                           target: float = MNIST_STROKE_WIDTH) -> np.ndarray:
    """An ink box (h, w) whose strokes would be thinner or thicker than MNIST's once its longer
    side is 20 px → the same digit with its strokes grown or shrunk to `target` px (at that
    scale); any other ink box unchanged, so MNIST-like drawings keep their own look.

    The width is measured as ink mass / skeleton length at 4× the output scale (the longer side
    resized to 80 px), where strokes are several pixels wide, as MNIST's was measured.
    """
    band = band if band is not None else WIDTH_BAND
    h, w = crop.shape
    scale = BOX * WORK_SCALE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    work = np.asarray(Image.fromarray(crop).resize(size, resample), dtype=np.float32)
    width = stroke_width(work) / WORK_SCALE  # in output pixels
    if width == 0.0 or band[0] <= width <= band[1]:
        return crop
    redrawn = change_stroke_width(work, (target - width) * WORK_SCALE)
    rows, cols = np.flatnonzero(redrawn.any(axis=1)), np.flatnonzero(redrawn.any(axis=0))
    if len(rows) == 0:  # eroded away: a smudge with no stroke to keep
        return crop
    return redrawn[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def ink_box_to_mnist(crop: np.ndarray) -> np.ndarray:
    """Ink cropped to its bounding box (h, w) float32 in [0, 1] → the 28×28 MNIST digit: longer
    side scaled to 20 px with anti-aliasing, peak ink 1, centre of mass at (14, 14)."""
    digit = _scale_longer_side(crop, BOX)  # (h', w'), max(h', w') == 20
    # MNIST digits all peak at (almost) 255; a thin pen shrunk 10× would otherwise look faint.
    digit *= np.float32(1.0 / float(digit.max()))  # > 0: the box's edge rows hold ink
    return _centre_by_mass(np.clip(digit, 0.0, 1.0, out=digit))


def _border(a: np.ndarray) -> np.ndarray:
    """The 1-px frame of a 2-D array as one flat array (2·(H + W) − 4 values)."""
    return np.concatenate((a[0, :], a[-1, :], a[1:-1, 0], a[1:-1, -1]))


def _luma(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 → (H, W) float32 0–255 grey (ITU-R 601 weights, as Pillow's "L")."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).convert("L"), dtype=np.float32)


def _solid_mask(ink: np.ndarray) -> np.ndarray:
    """Ink pixels with at least one 4-neighbour that is ink too: (H, W) bool.

    A pen stroke is at least two pixels wide (anti-aliasing alone sees to that), so every stroke
    survives; a lone pixel of noise does not.
    """
    m = ink >= INK_LEVEL
    solid = np.zeros_like(m)
    pairs = m[:, :-1] & m[:, 1:]  # (H, W-1): horizontal neighbours both ink
    solid[:, :-1] |= pairs
    solid[:, 1:] |= pairs
    pairs = m[:-1, :] & m[1:, :]  # (H-1, W): vertical neighbours both ink
    solid[:-1, :] |= pairs
    solid[1:, :] |= pairs
    return solid


def _scale_longer_side(crop: np.ndarray, target: int) -> np.ndarray:
    """Resize (h, w) float32 so max(h, w) == target, keeping the aspect ratio (≥ 1 px)."""
    h, w = crop.shape
    scale = target / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    # Shrinking (the usual case: a big canvas) averages areas, which is the anti-aliasing MNIST
    # has; enlarging a tiny drawing interpolates bilinearly instead of making blocky pixels.
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    out = Image.fromarray(crop).resize((new_w, new_h), resample)
    return np.asarray(out, dtype=np.float32).copy()


def _centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """Paste (h, w) ink (h, w ≤ 20) into 28×28 with its centre of mass at (14, 14) ± 0.5 px.

    Whole-pixel shifts, as MNIST itself was made (its centres of mass spread evenly over ±0.5 px
    around 14): a sub-pixel shift would blur every stroke (measured on re-painted test digits:
    65 % of ink pixels grey instead of 55 %; MNIST has 45 %). The offset is clamped so the
    whole ink box stays inside the frame (only very lopsided shapes hit this).
    """
    h, w = digit.shape
    mass = float(digit.sum())
    cy = float(digit.sum(axis=1) @ np.arange(h, dtype=np.float32)) / mass
    cx = float(digit.sum(axis=0) @ np.arange(w, dtype=np.float32)) / mass
    top = min(max(round(CENTRE - cy), 0), SIZE - h)
    left = min(max(round(CENTRE - cx), 0), SIZE - w)
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top : top + h, left : left + w] = digit
    return out
