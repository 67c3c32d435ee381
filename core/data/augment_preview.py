"""What augmentation does to real training digits: the grid the Train tab previews.

The first training image of each digit 0-9, then `draws` augmented versions of the ten, drawn
with a generator seeded the same way every time: moving the strength changes how far the digits
move, not which way. torch is imported inside `augmentation_grid`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

GRID_DRAWS = 3  # augmented rows under the row of originals
PREVIEW_SEED = 1234


@lru_cache(maxsize=2)
def sample_digits(folder: str) -> np.ndarray:
    """The first training image of each digit 0-9 in the MNIST files in `folder`: (10, 28, 28)."""
    from core.data.mnist import load_arrays

    data = load_arrays(Path(folder))
    firsts = [int(np.flatnonzero(data.train_labels == d)[0]) for d in range(10)]
    return np.array(data.train_images[firsts])


def augmentation_grid(folder: Path | str, strength: float, stroke: float, aspect: float = 0.0,
                      draws: int = GRID_DRAWS) -> np.ndarray:
    """(1 + draws, 10, 28, 28) uint8 tiles: the originals, then augmented draws of them."""
    import torch

    from core.data.augment import AugmentSpec, augment_batch

    digits = sample_digits(str(folder))
    x = torch.from_numpy(digits).float().div(255).unsqueeze(1)  # (10, 1, 28, 28)
    generator = torch.Generator().manual_seed(PREVIEW_SEED)
    spec = AugmentSpec(stroke=stroke, aspect=aspect)
    rows = [x] + [augment_batch(x, strength, generator, spec) for _ in range(draws)]
    return (torch.stack(rows).squeeze(2).clamp(0, 1) * 255).round().byte().numpy()
