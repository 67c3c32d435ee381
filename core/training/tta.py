"""Test-time augmentation: read each digit as it is and rotated by ±d degrees, average the answers.

The optimization playground (write-up 004) evaluated its model3 on angles [-3°, 0°, +3°].
`RotationTTA` wraps any zoo model (normalised input, logits out) and is itself one: the same
module scores a run in `evaluate` and goes into the exported ONNX graph (`core.onnx_io.export`),
so the Draw tab reads exactly what was measured. Its rotations are fixed sampling grids
(`grid_sample`, ONNX GridSample), computed once; no random numbers.

Output: log of the mean of the views' softmax probabilities, a valid logit vector (softmax
gives back the averaged probabilities), so cross-entropy, argmax and the classifier's softmax
all work on it unchanged.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core.data.mnist import normalize

# The black background after normalisation: rotations pad with it, not with 0 (which would be
# grey ink in normalised units).
_BACKGROUND = normalize(0.0)


def tta_angles(degrees: float) -> list[float]:
    """The views read: [-d, 0, +d] degrees (just [0] when d is 0)."""
    return [0.0] if degrees <= 0 else [-float(degrees), 0.0, float(degrees)]


def describe_tta(degrees: float) -> str:
    """One line for logs and ONNX metadata."""
    if degrees <= 0:
        return "none"
    return (f"rotations {', '.join(f'{a:+g}°' for a in tta_angles(degrees))}, "
            f"probabilities averaged")


class RotationTTA(nn.Module):
    """(B, 1, 28, 28) normalised images → (B, 10) log of the views' mean probabilities."""

    def __init__(self, model: nn.Module, degrees: float, size: int = 28) -> None:
        super().__init__()
        self.model = model
        self.degrees = float(degrees)
        rotated = [a for a in tta_angles(degrees) if a != 0.0]  # 0° is the image itself
        thetas = []
        for angle in rotated:
            c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
            thetas.append([[c, -s, 0.0], [s, c, 0.0]])  # output pixel → input pixel, as augment
        device = next(model.parameters()).device
        theta = torch.tensor(thetas, dtype=torch.float32, device=device).reshape(-1, 2, 3)
        # (R, H, W, 2): one sampling grid per rotated view, shared by every image of a batch.
        grids = F.affine_grid(theta, [len(rotated), 1, size, size], align_corners=False)
        self.register_buffer("grids", grids, persistent=False)
        self.train(model.training)  # evaluate() restores the wrapper's mode onto the model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        views = [x]
        for r in range(self.grids.shape[0]):
            grid = self.grids[r:r + 1].expand(b, -1, -1, -1).to(x.dtype)
            moved = F.grid_sample(x - _BACKGROUND, grid, mode="bilinear", padding_mode="zeros",
                                  align_corners=False)
            views.append(moved + _BACKGROUND)
        # One forward pass over all views: (V·B, 1, 28, 28) → (V, B, 10).
        logits = self.model(torch.cat(views)).float().reshape(len(views), b, -1)
        return torch.logsumexp(F.log_softmax(logits, dim=-1), dim=0) - math.log(len(views))


def with_tta(model: nn.Module, config: Any) -> nn.Module:
    """`model` wrapped in the rotations `config` (TrainConfig or its dict) asks for, or itself."""
    degrees = (config.get("tta_degrees", 0.0) if isinstance(config, dict)
               else getattr(config, "tta_degrees", 0.0))
    return RotationTTA(model, float(degrees)) if degrees and degrees > 0 else model
