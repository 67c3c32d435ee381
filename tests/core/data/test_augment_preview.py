"""core.data.augment_preview: the Train tab's grid of real digits and their augmented draws."""

from __future__ import annotations

import numpy as np

from core.data.augment_preview import augmentation_grid, sample_digits


def test_the_first_row_is_the_first_training_digit_of_each_class(mnist_dir, mnist) -> None:
    grid = augmentation_grid(mnist_dir, strength=1.0, stroke=0.1, aspect=0.1)
    assert grid.shape == (4, 10, 28, 28) and grid.dtype == np.uint8
    for digit in range(10):
        first = int(np.flatnonzero(mnist.train_labels == digit)[0])
        assert (grid[0, digit] == mnist.train_images[first]).all()
    assert (sample_digits(str(mnist_dir)) == grid[0]).all()


def test_draws_are_repeatable_and_grow_with_strength(mnist_dir) -> None:
    weak = augmentation_grid(mnist_dir, strength=0.2, stroke=0.0)
    strong = augmentation_grid(mnist_dir, strength=2.0, stroke=0.0)
    assert (augmentation_grid(mnist_dir, strength=2.0, stroke=0.0) == strong).all()  # seeded
    moved = [np.abs(g[1:].astype(int) - g[0].astype(int)).mean() for g in (weak, strong)]
    assert 0 < moved[0] < moved[1]
    assert (augmentation_grid(mnist_dir, strength=0.0, stroke=0.0)[1:] == weak[0]).all()


def test_draws_can_be_asked_for(mnist_dir) -> None:
    assert augmentation_grid(mnist_dir, 1.0, 0.0, draws=1).shape == (2, 10, 28, 28)
