"""Batched augmentation on the training device: one random affine per sample, no Python loop.

Every sample gets its own rotation, scale, shear and translation, drawn from `generator` so a
seeded run is repeatable. The warp is one `affine_grid` + `grid_sample` over the whole batch.
Optional stroke-weight jitter (grey dilation/erosion) makes thin and thick pen strokes familiar
to the model, which matters for digits drawn on a canvas rather than scanned for MNIST; optional
elastic distortion (a smooth random displacement added to the same grid) bends strokes the way
other hands do.

This module owns what an augmentation *is* (`ROTATION_AT_FULL_STRENGTH`, `AugmentSpec`,
`Augmentation`), which TrainConfig and the zoo's recipes speak in, so it imports torch only
inside the functions that warp images: reading TrainConfig at start-up never loads torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# What augmentation strength 1.0 means for rotation (± degrees): AugmentSpec's default range;
# the zoo maps a write-up's rotation range to a strength through it.
ROTATION_AT_FULL_STRENGTH = 8.0


@dataclass(frozen=True)
class AugmentSpec:
    """Ranges at strength 1.0; each is scaled linearly by the strength (0 = identity)."""

    rotate_deg: float = ROTATION_AT_FULL_STRENGTH  # ± degrees
    translate: float = 0.08  # ± fraction of the image side (0.08 × 28 ≈ 2.2 px)
    scale: float = 0.08  # ± relative size change
    shear_deg: float = 6.0  # ± degrees of horizontal shear (handwriting slant)
    stroke: float = 0.0  # ± fraction of one 3×3 dilation (+) or erosion (−) of the ink
    aspect: float = 0.0  # ± relative width change alone: narrow and wide handwriting
    elastic: float = 0.0  # ± pixels of a smooth random displacement field (another hand's curves)


DEFAULT_SPEC = AugmentSpec()


@dataclass(frozen=True)
class Augmentation:
    """Everything a training batch goes through, in one object: the affine/stroke/elastic
    ranges at `strength`, and the share of images swapped for their pen re-drawings
    (core/data/pen_variants.py). `NO_AUGMENTATION` leaves digits as they are."""

    strength: float = 0.0
    spec: AugmentSpec = DEFAULT_SPEC
    pen: float = 0.0

    @property
    def warps(self) -> bool:
        return self.strength > 0


NO_AUGMENTATION = Augmentation()


def _uniform(n: int, bound: float, generator: torch.Generator,
             device: torch.device) -> torch.Tensor:
    """n samples from U(-bound, bound), drawn on `device` with `generator` (no host sync)."""
    import torch

    return (torch.rand(n, generator=generator, device=device) * 2 - 1) * bound


def random_affine_matrices(n: int, strength: float, spec: AugmentSpec,
                           generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """(n, 2, 3) sampling matrices for `affine_grid` in normalised [-1, 1] coordinates."""
    import torch

    angle = _uniform(n, math.radians(spec.rotate_deg * strength), generator, device)
    shear = _uniform(n, math.radians(spec.shear_deg * strength), generator, device)
    scale = 1 + _uniform(n, spec.scale * strength, generator, device)
    # Drawn only when used, so runs without it keep the random streams they always had.
    widen = (1 + _uniform(n, spec.aspect * strength, generator, device) if spec.aspect > 0
             else torch.ones_like(scale))
    # Translation in normalised units: the image spans 2, so a fraction f of it is 2f.
    tx = _uniform(n, 2 * spec.translate * strength, generator, device)
    ty = _uniform(n, 2 * spec.translate * strength, generator, device)
    cos, sin, tan = torch.cos(angle), torch.sin(angle), torch.tan(shear)
    # The grid maps output pixels to input pixels, so dividing by scale enlarges the digit.
    # A = R(angle) @ [[1, tan(shear)], [0, 1]] @ diag(1 / widen, 1) / scale
    a11, a12 = cos / (scale * widen), (cos * tan - sin) / scale
    a21, a22 = sin / (scale * widen), (sin * tan + cos) / scale
    return torch.stack([torch.stack([a11, a12, tx], 1), torch.stack([a21, a22, ty], 1)], 1)


def _max3x3(images: torch.Tensor, pad_value: float) -> torch.Tensor:
    """3×3 sliding maximum (stride 1, same size) as two 1-D passes of shifted maxima.

    Same values as `max_pool2d(images, 3, 1, 1)` when `pad_value` never wins at the border, and
    ~10× faster on the CPU, where max_pool2d also builds an index tensor nobody needs here.
    """
    import torch
    import torch.nn.functional as F

    x = F.pad(images, (1, 1, 1, 1), value=pad_value)
    rows = torch.maximum(torch.maximum(x[..., :-2], x[..., 1:-1]), x[..., 2:])
    return torch.maximum(torch.maximum(rows[..., :-2, :], rows[..., 1:-1, :]), rows[..., 2:, :])


def jitter_stroke(images: torch.Tensor, amount: float, generator: torch.Generator) -> torch.Tensor:
    """Blend each image toward its grey dilation (thicker) or erosion (thinner), per sample."""
    import torch

    b = images.shape[0]
    weight = _uniform(b, amount, generator, images.device).view(b, 1, 1, 1)
    thick = _max3x3(images, 0.0)  # ink is >= 0, so a zero border never wins
    thin = -_max3x3(-images, -1.0)  # ink is <= 1: a border of 1 never wins the minimum
    target = torch.where(weight >= 0, thick, thin)
    return images + weight.abs() * (target - images)


ELASTIC_KNOTS = 4  # the displacement field is random on a 4×4 grid, bicubically smoothed


def elastic_field(n: int, height: int, width: int, pixels: float, generator: torch.Generator,
                  device: torch.device) -> torch.Tensor:
    """(n, H, W, 2) smooth random displacements of at most `pixels` px, in `affine_grid` units.

    Elastic distortion (Simard et al., 2003) through a coarse grid rather than a Gaussian blur
    of per-pixel noise: random offsets at 4×4 knots, bicubically interpolated, bend a digit's
    strokes the way another writer's hand would, in one small interpolation per batch.
    """
    import torch
    import torch.nn.functional as F

    knots = torch.rand(n, 2, ELASTIC_KNOTS, ELASTIC_KNOTS, generator=generator,
                       device=device) * 2 - 1
    field = F.interpolate(knots, size=(height, width), mode="bicubic", align_corners=True)
    field = field.clamp_(-1.0, 1.0)  # bicubic overshoots the knots by up to ~30 %
    # Normalised units: the image spans 2, so p pixels of a side of `s` pixels is 2p / s.
    scale = torch.tensor([2 * pixels / width, 2 * pixels / height], device=device)
    return field.permute(0, 2, 3, 1) * scale


def augment_batch(images: torch.Tensor, strength: float, generator: torch.Generator,
                  spec: AugmentSpec = DEFAULT_SPEC) -> torch.Tensor:
    """Randomly warp a batch (B, 1, H, W) of [0, 1] images; strength 0 returns it unchanged."""
    if strength <= 0:
        return images
    import torch.nn.functional as F

    if spec.stroke > 0:
        images = jitter_stroke(images, spec.stroke * strength, generator)
    theta = random_affine_matrices(images.shape[0], strength, spec, generator, images.device)
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    if spec.elastic > 0:  # drawn only when used: runs without it keep their random streams
        b, _, h, w = images.shape
        grid = grid + elastic_field(b, h, w, spec.elastic * strength, generator,
                                    images.device).to(grid.dtype)
    # Zero padding is the black background; bilinear keeps the anti-aliased grey edges.
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
