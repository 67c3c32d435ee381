"""Why the model read a drawing as it did: an occlusion map from the ONNX model alone.

Forward passes only, so it works for any model `DigitClassifier` opens (ours or a foreign file,
no gradients, no torch). Each PATCH × PATCH square of the 28×28 input is blanked (set to the
background, 0) in turn, all copies in one batch, and the model reads every copy:

- drop[y, x]: how much the predicted digit's probability falls when the ink around (y, x) is
  gone (positive: that ink pushed the model towards its answer);
- rise[y, x]: how much the runner-up's probability climbs then (positive: that ink held the
  runner-up back).

A pixel's value is the mean over the patches that cover it. `support = drop + rise` is the
one map the Draw tab shows: positive for ink that favours the answer over the runner-up, negative
for ink that favours the runner-up. Squares without ink are skipped: blanking the background
changes nothing, so their effect is exactly 0 and costs no forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.onnx_io.classifier import DigitClassifier

PATCH = 4  # px: about one MNIST stroke width and a half; smaller maps are noisier
SIDE = 28
INK = 0.05  # a patch whose brightest pixel is below this holds no ink worth blanking


@dataclass(frozen=True)
class Explanation:
    digit: int  # the model's answer on the intact drawing
    runner_up: int
    probabilities: np.ndarray  # (10,) on the intact drawing
    drop: np.ndarray  # (28, 28) float32: fall of p(digit) when the ink around a pixel is blanked
    rise: np.ndarray  # (28, 28) float32: climb of p(runner_up) then
    patches: int  # forward passes run (squares holding ink)

    @property
    def support(self) -> np.ndarray:
        """(28, 28): > 0 where the ink favours the answer over the runner-up, < 0 the reverse."""
        return self.drop + self.rise


def occlusion(clf: DigitClassifier, image28: np.ndarray, patch: int = PATCH) -> Explanation:
    """The occlusion maps of `image28` ((28, 28) float in [0, 1], white ink on black)."""
    image = np.asarray(image28, dtype=np.float32)
    if image.shape != (SIDE, SIDE):
        raise ValueError(f"image must be (28, 28); got {image.shape}")
    if not 1 <= patch <= SIDE:
        raise ValueError(f"patch must be 1..28 pixels; got {patch}")
    base = clf.predict_proba(image)[0]
    order = np.argsort(base)[::-1]
    digit, runner_up = int(order[0]), int(order[1])
    # Top-left corners of the squares holding ink: (P,) each. Vectorised throughout, so the
    # thread computing a map holds the GIL only briefly (the GUI thread keeps reading).
    windows = np.lib.stride_tricks.sliding_window_view(image, (patch, patch))  # (K, K, p, p)
    ys, xs = np.nonzero(windows.max(axis=(2, 3)) >= INK)
    drop = np.zeros((SIDE, SIDE), np.float64)
    rise = np.zeros((SIDE, SIDE), np.float64)
    if len(ys):
        rows, cols = np.arange(SIDE), np.arange(SIDE)
        in_rows = (rows[None] >= ys[:, None]) & (rows[None] < ys[:, None] + patch)  # (P, 28)
        in_cols = (cols[None] >= xs[:, None]) & (cols[None] < xs[:, None] + patch)
        squares = (in_rows[:, :, None] & in_cols[:, None, :]).astype(np.float64)  # (P, 28, 28)
        probs = clf.predict_proba(image[None] * (1.0 - squares).astype(np.float32))  # (P, 10)
        drop = np.tensordot(base[digit] - probs[:, digit], squares, axes=1)
        rise = np.tensordot(probs[:, runner_up] - base[runner_up], squares, axes=1)
    coverage = _coverage(patch)
    return Explanation(digit, runner_up, base, (drop / coverage).astype(np.float32),
                       (rise / coverage).astype(np.float32), len(ys))


def _coverage(patch: int) -> np.ndarray:
    """(28, 28): how many patch positions cover each pixel (fewer near the edges)."""
    ones = np.arange(SIDE)
    per_axis = np.minimum(ones, SIDE - patch) - np.maximum(ones - patch + 1, 0) + 1
    return np.outer(per_axis, per_axis).astype(np.float64)


# --- for people and files ----------------------------------------------------------------------

# Text map: strong to weak support, blank, weak to strong against (the runner-up's side).
_FOR, _AGAINST = "@#+", "=-~"


def as_text(result: Explanation, image28: np.ndarray) -> str:
    """28 lines of 28 characters: @ # + ink for the answer (strong to weak), ~ - = ink for the
    runner-up (strong to weak), . ink with no effect, blank where there is no ink."""
    support = result.support
    scale = float(np.abs(support).max()) or 1.0
    lines = []
    for y in range(SIDE):
        row = []
        for x in range(SIDE):
            if image28[y, x] < INK:
                row.append(" ")
                continue
            level = support[y, x] / scale
            if abs(level) < 0.1:
                row.append(".")
            elif level > 0:
                row.append(_FOR[0 if level > 0.6 else 1 if level > 0.3 else 2])
            else:
                row.append(_AGAINST[2 if level < -0.6 else 1 if level < -0.3 else 0])
        lines.append("".join(row).rstrip())
    return "\n".join(lines)


def heat_rgb(result: Explanation, image28: np.ndarray) -> np.ndarray:
    """(28, 28, 3) uint8: the drawing in grey, tinted red where its ink favours the answer and
    blue where it favours the runner-up (strength by |support|, scaled to the strongest)."""
    support = result.support
    scale = float(np.abs(support).max()) or 1.0
    level = np.clip(support / scale, -1.0, 1.0)
    grey = 40.0 + 120.0 * np.clip(image28, 0.0, 1.0)  # ink visible under the tint
    red, blue = np.clip(level, 0, 1), np.clip(-level, 0, 1)
    rgb = np.stack([grey + (255 - grey) * red, grey * (1 - 0.7 * (red + blue)),
                    grey * (1 - 0.7 * red) + (255 - grey) * blue], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def save_png(result: Explanation, image28: np.ndarray, path: Path, scale: int = 10) -> Path:
    """The heat map, `scale` times enlarged, to the file the caller chose."""
    from io import BytesIO

    from PIL import Image

    from core.fileio import write_bytes_atomic

    big = Image.fromarray(heat_rgb(result, image28)).resize((SIDE * scale, SIDE * scale),
                                                            Image.Resampling.NEAREST)
    buffer = BytesIO()
    big.save(buffer, format="PNG")
    write_bytes_atomic(path, buffer.getvalue())
    return path
