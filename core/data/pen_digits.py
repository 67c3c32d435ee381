"""Synthetic pen writers: digits written as pen trajectories, for a proxy of real handwriting.

This is a test generator, kept apart from everything training sees: training re-draws MNIST's
own skeletons (`core.data.pen_variants`); these digits are built from scratch out of per-class
templates ("allographs": open and closed 4s, barred, footed and serif 7s, flagged and based 1s,
looped, open-top and curved-tail 9s, ...), the way people who are not MNIST's writers draw them:
- a *writer* (`Writer`) fixes the style: which allograph for each digit, slant, proportions,
  pen width (8–24 canvas units), digit size (30–85 % of the canvas height), shakiness, how
  sparse the pointer samples are;
- each digit adds its own variation: control points moved, slight rotation, size, place;
- strokes are Catmull-Rom curves through the control points with a smooth tremor, sampled like
  pointer events on the Draw tab's 280 × 280 canvas.
Only numpy; the sets are made and scored in `core.data.pen_proxy`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.data.canvas import CANVAS_SIDE

Points = list[tuple[float, float]]  # control points (x, y) of one stroke, height 1, y down


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float,
         n: int = 9) -> Points:
    """Points on an ellipse from angle `start` to `end` (degrees; 0 = right, 90 = down, since
    y grows downwards: increasing angles run clockwise on screen)."""
    t = np.radians(np.linspace(start, end, n))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in t]


# Templates: class → allograph name → strokes. A stroke is a list of control points in a box of
# height 1 (y down); widths are ~0.6 before the writer's proportions. Names say the style.
TEMPLATES: dict[int, dict[str, list[Points]]] = {
    0: {
        "oval": [_arc(0.3, 0.5, 0.3, 0.5, -95, 275, 13)],
        "oval-overshoot": [_arc(0.3, 0.5, 0.3, 0.5, -60, 320, 14)],
        "oval-gap": [_arc(0.3, 0.5, 0.3, 0.5, -70, 250, 11)],
        "round": [_arc(0.4, 0.5, 0.4, 0.5, -90, 270, 13)],
    },
    1: {
        "stick": [[(0.3, 0.0), (0.3, 0.5), (0.3, 1.0)]],
        "flag": [[(0.05, 0.28), (0.32, 0.0), (0.32, 0.5), (0.32, 1.0)]],
        "flag-base": [[(0.05, 0.28), (0.32, 0.0), (0.32, 0.5), (0.32, 1.0)],
                      [(0.02, 1.0), (0.32, 1.0), (0.62, 1.0)]],
        "base": [[(0.3, 0.0), (0.3, 0.5), (0.3, 1.0)], [(0.05, 1.0), (0.3, 1.0), (0.55, 1.0)]],
    },
    2: {
        "plain": [[(0.02, 0.25), (0.25, 0.0), (0.52, 0.12), (0.5, 0.4), (0.25, 0.72),
                   (0.02, 1.0), (0.3, 0.99), (0.62, 1.0)]],
        "curly": [[(0.02, 0.22), (0.28, 0.0), (0.55, 0.18), (0.45, 0.48), (0.15, 0.82),
                   (0.1, 0.97), (0.22, 0.88), (0.18, 0.98), (0.4, 0.97), (0.62, 1.0)]],
        "z": [[(0.02, 0.05), (0.3, 0.0), (0.58, 0.05), (0.3, 0.5), (0.02, 1.0), (0.62, 1.0)]],
    },
    3: {
        "round": [[(0.03, 0.14), (0.28, 0.0), (0.52, 0.14), (0.45, 0.36), (0.22, 0.47),
                   (0.5, 0.6), (0.58, 0.82), (0.32, 1.0), (0.02, 0.88)]],
        "flat-top": [[(0.02, 0.0), (0.3, 0.0), (0.58, 0.0), (0.24, 0.4), (0.55, 0.6),
                      (0.58, 0.82), (0.32, 1.0), (0.02, 0.9)]],
        "cusp": [[(0.05, 0.08), (0.4, 0.02), (0.5, 0.25), (0.15, 0.47), (0.5, 0.55),
                  (0.6, 0.82), (0.3, 1.0), (0.0, 0.85)]],
    },
    4: {
        "open": [[(0.38, 0.0), (0.2, 0.35), (0.02, 0.68), (0.35, 0.68), (0.65, 0.67)],
                 [(0.48, 0.3), (0.48, 0.65), (0.48, 1.0)]],
        "closed": [[(0.48, 1.0), (0.48, 0.5), (0.48, 0.0), (0.24, 0.35), (0.0, 0.68),
                    (0.35, 0.68), (0.65, 0.67)]],
        "square": [[(0.05, 0.0), (0.04, 0.3), (0.05, 0.58), (0.35, 0.58), (0.64, 0.57)],
                   [(0.5, 0.0), (0.5, 0.5), (0.5, 1.0)]],
    },
    5: {
        "two-stroke": [[(0.1, 0.0), (0.07, 0.22), (0.05, 0.45), (0.32, 0.38), (0.56, 0.6),
                        (0.5, 0.9), (0.25, 1.0), (0.0, 0.9)],
                       [(0.1, 0.0), (0.35, 0.0), (0.6, 0.0)]],
        "one-stroke": [[(0.6, 0.0), (0.35, 0.0), (0.1, 0.0), (0.07, 0.22), (0.05, 0.45),
                        (0.32, 0.38), (0.56, 0.6), (0.5, 0.9), (0.25, 1.0), (0.0, 0.9)]],
    },
    6: {
        "plain": [[(0.52, 0.02), (0.22, 0.3), (0.05, 0.66), (0.2, 0.98), (0.48, 0.94),
                   (0.56, 0.7), (0.35, 0.52), (0.08, 0.66)]],
        "straight": [[(0.5, 0.0), (0.25, 0.35), (0.06, 0.72), (0.22, 1.0), (0.5, 0.92),
                      (0.52, 0.68), (0.25, 0.58), (0.07, 0.74)]],
    },
    7: {
        "plain": [[(0.02, 0.02), (0.32, 0.0), (0.62, 0.02), (0.4, 0.5), (0.22, 1.0)]],
        "barred": [[(0.02, 0.02), (0.32, 0.0), (0.62, 0.02), (0.4, 0.5), (0.22, 1.0)],
                   [(0.14, 0.52), (0.34, 0.5), (0.58, 0.48)]],
        "footed": [[(0.02, 0.02), (0.32, 0.0), (0.62, 0.02), (0.4, 0.45), (0.26, 0.8),
                    (0.3, 0.98), (0.5, 1.0)]],
        "serif": [[(0.02, 0.2), (0.03, 0.0), (0.32, 0.0), (0.62, 0.02), (0.4, 0.5),
                   (0.22, 1.0)]],
    },
    8: {
        "figure": [[(0.55, 0.12), (0.3, 0.0), (0.06, 0.16), (0.25, 0.42), (0.55, 0.66),
                    (0.38, 1.0), (0.05, 0.8), (0.3, 0.48), (0.56, 0.22), (0.48, 0.06)]],
        "two-loops": [_arc(0.3, 0.25, 0.22, 0.25, 90, 450, 11),
                      _arc(0.3, 0.74, 0.29, 0.26, -90, 270, 11)],
    },
    9: {
        "stick": [[*_arc(0.3, 0.27, 0.27, 0.27, -10, -370, 12), (0.56, 0.6), (0.55, 1.0)]],
        "curved-tail": [[*_arc(0.3, 0.27, 0.27, 0.27, -10, -370, 12), (0.52, 0.7),
                         (0.35, 0.97), (0.1, 0.92)]],
        "open-top": [[*_arc(0.3, 0.28, 0.28, 0.28, -110, -395, 11), (0.57, 0.65),
                      (0.5, 1.0)]],
    },
}
ALLOGRAPHS = [(label, name) for label, styles in TEMPLATES.items() for name in styles]


@dataclass(frozen=True)
class Writer:
    """One synthetic person's hand: every digit they write shares these."""

    allographs: tuple[str, ...]  # the template name used for each digit 0–9
    slant: float  # degrees; positive leans the top to the right
    aspect: float  # width multiplier of the templates' proportions
    pen: float  # pen width in canvas units (the Draw tab's slider: 6–44)
    size: float  # digit height as a fraction of the canvas side
    jitter: float  # σ of control-point moves, in digit heights
    tremor: float  # amplitude of the hand's wobble, in canvas units
    sample_gap: float  # canvas units between pointer samples (a fast hand sends fewer)


def make_writers(n: int, seed: int, *, pen: tuple[float, float] = (8.0, 24.0),
                 size: tuple[float, float] = (0.3, 0.85)) -> list[Writer]:
    """`n` writers drawn from seed `seed`; each picks one allograph per digit at random."""
    rng = np.random.default_rng([seed, 0x5EED])
    writers = []
    for _ in range(n):
        allographs = tuple(str(rng.choice(list(TEMPLATES[d]))) for d in range(10))
        writers.append(Writer(allographs=allographs, slant=float(rng.uniform(-15, 25)),
                              aspect=float(rng.uniform(0.7, 1.4)),
                              pen=float(rng.uniform(*pen)), size=float(rng.uniform(*size)),
                              jitter=float(rng.uniform(0.015, 0.045)),
                              tremor=float(rng.uniform(0.0, 2.0)),
                              sample_gap=float(rng.uniform(2.0, 7.0))))
    return writers


def write_digit(writer: Writer, label: int, rng: np.random.Generator,
                canvas_side: float = CANVAS_SIDE) -> list[np.ndarray]:
    """One digit in `writer`'s hand: strokes as (K, 2) pointer samples (x, y) in canvas units."""
    strokes = TEMPLATES[label][writer.allographs[label]]
    height = canvas_side * writer.size * rng.uniform(0.9, 1.1)
    slant = math.tan(math.radians(writer.slant + rng.normal(0, 3)))
    turn = math.radians(rng.normal(0, 3))
    aspect = writer.aspect * rng.uniform(0.92, 1.08)
    curves = []
    for control in strokes:
        p = np.asarray(control, dtype=np.float64)
        p = p + rng.normal(0, writer.jitter, p.shape)  # this digit's own shape
        curve = _catmull_rom(p, spacing=0.01)  # dense, in template units
        x = curve[:, 0] * aspect + slant * (1 - curve[:, 1])
        y = curve[:, 1]
        x, y = x * math.cos(turn) - y * math.sin(turn), x * math.sin(turn) + y * math.cos(turn)
        curves.append(np.stack((x, y), axis=1) * height)
    every = np.concatenate(curves)
    low, high = every.min(axis=0), every.max(axis=0)
    margin = writer.pen / 2 + 2
    room = np.maximum(canvas_side - 2 * margin - (high - low), 0)
    offset = margin + rng.uniform(0, 1, 2) * room - low  # anywhere the digit fits
    out = []
    for curve in curves:
        curve = curve + offset + _tremor(len(curve), writer.tremor, rng)
        out.append(_pointer_samples(curve, writer.sample_gap * rng.uniform(0.8, 1.2)))
    return out


def _catmull_rom(p: np.ndarray, spacing: float) -> np.ndarray:
    """Uniform Catmull-Rom curve through the points (K, 2), sampled about `spacing` apart."""
    if len(p) < 2:
        return p.copy()
    padded = np.concatenate((p[:1], p, p[-1:]))
    pieces = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1 : i + 3]
        n = max(2, int(np.hypot(*(p2 - p1)) / spacing))
        t = np.linspace(0, 1, n, endpoint=False)[:, None]
        pieces.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                             + (3 * p1 - p0 - 3 * p2 + p3) * t**3))
    pieces.append(p[-1:])
    return np.concatenate(pieces)


def _tremor(n: int, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """(n, 2) smooth wobble: a few low-frequency sines per axis with random phases."""
    if amplitude <= 0 or n == 0:
        return np.zeros((n, 2))
    t = np.linspace(0, 1, n)[:, None]
    freq = rng.uniform(1, 6, (1, 3))
    out = np.zeros((n, 2))
    for axis in range(2):
        phase = rng.uniform(0, 2 * np.pi, (1, 3))
        out[:, axis] = (np.sin(2 * np.pi * freq * t + phase).sum(axis=1) / 3) * amplitude
    return out


def _pointer_samples(curve: np.ndarray, gap: float) -> np.ndarray:
    """Keep points about `gap` canvas units apart along the curve, and its last point."""
    steps = np.hypot(*np.diff(curve, axis=0).T)
    along = np.concatenate(([0.0], np.cumsum(steps)))
    keep = np.unique(np.searchsorted(along, np.arange(0, along[-1], max(gap, 0.5))))
    return np.concatenate((curve[keep], curve[-1:]))
