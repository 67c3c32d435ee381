"""Batched augmentation: shapes, identity at zero, per-sample randomness, plausible ink."""

from __future__ import annotations

import torch

from core.data.augment import AugmentSpec, augment_batch, jitter_stroke


def digits(mnist, n: int = 256) -> torch.Tensor:
    return torch.from_numpy(mnist.test_images[:n].copy()).unsqueeze(1).float() / 255


def test_zero_strength_is_identity(mnist) -> None:
    x = digits(mnist)
    out = augment_batch(x, 0.0, torch.Generator().manual_seed(0))
    assert torch.equal(out, x)


def test_shapes_range_and_ink_mass(mnist) -> None:
    x = digits(mnist)
    out = augment_batch(x, 1.0, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= 0 and out.max() <= 1.0 + 1e-5
    # Rotation/shift/shear keep the ink; scale ±8% changes the area by at most ~17%.
    ratio = out.sum(dim=(1, 2, 3)) / x.sum(dim=(1, 2, 3))
    assert ratio.min() > 0.75 and ratio.max() < 1.3, (ratio.min(), ratio.max())
    assert (out - x).abs().mean() > 0.01  # something really moved


def test_each_sample_gets_its_own_warp(mnist) -> None:
    one = digits(mnist, 1).repeat(8, 1, 1, 1)  # eight copies of the same digit
    out = augment_batch(one, 1.0, torch.Generator().manual_seed(1))
    flat = out.flatten(1)
    assert torch.cdist(flat, flat).fill_diagonal_(1.0).min() > 1e-3


def test_seeded_generators_repeat(mnist) -> None:
    x = digits(mnist, 32)
    a = augment_batch(x, 1.5, torch.Generator().manual_seed(7))
    b = augment_batch(x, 1.5, torch.Generator().manual_seed(7))
    c = augment_batch(x, 1.5, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_stronger_means_further(mnist) -> None:
    x = digits(mnist)
    weak = (augment_batch(x, 0.3, torch.Generator().manual_seed(0)) - x).abs().mean()
    strong = (augment_batch(x, 2.0, torch.Generator().manual_seed(0)) - x).abs().mean()
    assert strong > 1.5 * weak


def test_stroke_jitter_thickens_and_thins(mnist) -> None:
    x = digits(mnist, 64)
    out = jitter_stroke(x, 1.0, torch.Generator().manual_seed(0))
    change = out.sum(dim=(1, 2, 3)) / x.sum(dim=(1, 2, 3))
    assert change.max() > 1.2 and change.min() < 0.8  # both directions occur
    spec = AugmentSpec(rotate_deg=0, translate=0, scale=0, shear_deg=0, stroke=0.5)
    assert augment_batch(x, 1.0, torch.Generator().manual_seed(0), spec).shape == x.shape


def test_fast_dilation_and_erosion_equal_max_pooling() -> None:
    import torch.nn.functional as F

    from core.data.augment import _max3x3

    x = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    x[:, :, 0, :] = 1.0  # ink touching the border: the padding must not change the result there
    assert torch.equal(_max3x3(x, 0.0), F.max_pool2d(x, 3, stride=1, padding=1))
    assert torch.equal(-_max3x3(-x, -1.0), -F.max_pool2d(-x, 3, stride=1, padding=1))


def test_aspect_jitter_changes_width_not_height(mnist) -> None:
    one = torch.from_numpy(mnist.train_images[mnist.train_labels == 0][:64]).float()
    x = one.div(255).unsqueeze(1)
    spec = AugmentSpec(rotate_deg=0, translate=0, scale=0, shear_deg=0, aspect=0.3)
    out = augment_batch(x, 1.0, torch.Generator().manual_seed(0), spec)

    def extent(images: torch.Tensor, dim: int) -> torch.Tensor:  # ink columns (3) or rows (2)
        return (images[:, 0] > 0.3).any(dim=dim).sum(dim=1).float()

    width_ratio = extent(out, 1) / extent(x, 1)
    height_ratio = extent(out, 2) / extent(x, 2)
    assert width_ratio.std() > 0.08 and width_ratio.min() < 0.85 and width_ratio.max() > 1.15
    assert (height_ratio - 1).abs().max() < 0.15  # heights stay (up to resampling)
    same = augment_batch(x, 1.0, torch.Generator().manual_seed(0),
                         AugmentSpec(rotate_deg=0, translate=0, scale=0, shear_deg=0))
    assert torch.allclose(same, x, atol=1e-5)  # aspect 0: the identity, as before


def test_elastic_off_keeps_the_random_stream(mnist) -> None:
    """elastic=0 draws nothing extra: runs recorded before it existed replay exactly."""
    x = digits(mnist, 32)
    plain = augment_batch(x, 1.0, torch.Generator().manual_seed(3), AugmentSpec())
    off = augment_batch(x, 1.0, torch.Generator().manual_seed(3), AugmentSpec(elastic=0.0))
    assert torch.equal(plain, off)


def test_elastic_bends_strokes_smoothly_within_its_range(mnist) -> None:
    """The field moves pixels by up to `elastic` px, smoothly (neighbours move alike), and
    keeps the ink; the same affine with and without it differs."""
    from core.data.augment import elastic_field

    field = elastic_field(64, 28, 28, 2.0, torch.Generator().manual_seed(0), torch.device("cpu"))
    pixels = field * torch.tensor([14.0, 14.0])  # normalised units → pixels (side 28 spans 2)
    assert field.shape == (64, 28, 28, 2)
    assert 1.0 < pixels.abs().max() <= 2.0 + 1e-5
    step = (pixels[:, 1:] - pixels[:, :-1]).abs().max()
    assert step < 0.8  # smooth: neighbours move alike (per-pixel noise would differ by 4 px)
    x = digits(mnist, 64)
    spec = AugmentSpec(elastic=2.0)
    warped = augment_batch(x, 1.0, torch.Generator().manual_seed(5), spec)
    affine_only = augment_batch(x, 1.0, torch.Generator().manual_seed(5), AugmentSpec())
    assert (warped - affine_only).abs().mean() > 0.01
    ratio = warped.sum(dim=(1, 2, 3)) / x.sum(dim=(1, 2, 3))
    # Stretching and squeezing move ink mass per digit (measured 0.66-1.41), not on average.
    assert ratio.min() > 0.5 and ratio.max() < 1.6 and 0.9 < ratio.median() < 1.1
