"""Real pen writers (UCI pendigits): loading, the split by writer, the canvas placement, the two
reading paths and the per-writer report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.data import pendigits
from core.data.pendigits import (
    TRAINING_WRITERS,
    VALIDATION_WRITERS,
    evaluate_writers,
    load_pendigits,
    place_on_canvas,
    read_digits,
    training_digits,
)
from core.errors import DatasetError


@pytest.fixture(scope="module")
def digits(pen_digits: pendigits.PenDigits) -> pendigits.PenDigits:
    return pen_digits


def test_all_thirty_writers_and_every_digit(digits: pendigits.PenDigits) -> None:
    assert len(digits) == 7494
    assert sorted(set(digits.writers.tolist())) == list(range(1, 31))
    assert np.bincount(digits.labels, minlength=10).min() > 700
    assert all(len(s) >= 1 and all(len(stroke) >= 1 for stroke in s) for s in digits.strokes)


def test_the_split_is_by_writer_and_disjoint(digits: pendigits.PenDigits) -> None:
    assert not set(TRAINING_WRITERS) & set(VALIDATION_WRITERS)
    train, val = digits.of_writers(TRAINING_WRITERS), digits.of_writers(VALIDATION_WRITERS)
    assert len(train) + len(val) == len(digits)
    assert set(val.writers.tolist()) == set(VALIDATION_WRITERS)


def test_y_points_down_after_loading(digits: pendigits.PenDigits) -> None:
    """A 7's bar is drawn first, at the top: on a canvas whose y points down, the first stroke
    starts above (smaller y than) the digit's centre."""
    sevens = [s for s, label in zip(digits.strokes, digits.labels, strict=True) if label == 7]
    above = [s[0][0, 1] < np.concatenate(s)[:, 1].mean() for s in sevens[:200]]
    assert np.mean(above) > 0.9


def test_placement_is_inside_the_canvas_at_the_asked_size(digits: pendigits.PenDigits) -> None:
    rng = np.random.default_rng(0)
    for strokes in digits.strokes[:300]:
        placed = np.concatenate(place_on_canvas(strokes, rng))
        assert placed.min() >= -1e-9 and placed.max() <= 280 + 1e-9
        height = np.ptp(placed[:, 1])
        assert height <= 0.9 * 280 + 1e-6
        assert height >= 0.3 * 280 - 1e-6 or np.ptp(placed[:, 0]) >= 0.95 * 280 - 1e-6


def test_both_paths_read_the_digits(digits: pendigits.PenDigits) -> None:
    some = digits.of_writers([VALIDATION_WRITERS[0]])
    inputs = read_digits(some)
    assert set(inputs) == {"strokes", "pixels"}
    for images in inputs.values():
        assert images.shape == (len(some), 28, 28) and images.dtype == np.float32
        assert (images.reshape(len(some), -1).max(axis=1) > 0.99).mean() > 0.99
    again = read_digits(some)  # seeded: the same set everywhere
    np.testing.assert_array_equal(inputs["strokes"], again["strokes"])


def test_the_report_counts_per_digit_and_writer(digits: pendigits.PenDigits) -> None:
    some = digits.of_writers(VALIDATION_WRITERS[:2])
    inputs = read_digits(some)
    truth = np.eye(10, dtype=np.float32)[some.labels]
    perfect = evaluate_writers(lambda x: truth[: len(x)], some, inputs)
    assert perfect.accuracy == {"strokes": 100.0, "pixels": 100.0}
    assert perfect.agreement == 100.0
    # Wrong on every 3 of the first writer only: that writer and that digit lose, no other.
    wrong = truth.copy()
    mask = (some.labels == 3) & (some.writers == VALIDATION_WRITERS[0])
    wrong[mask] = np.eye(10, dtype=np.float32)[8]
    report = evaluate_writers(lambda x: wrong[: len(x)], some, inputs)
    threes = (some.labels == 3).sum()
    assert report.per_digit["strokes"][3] == pytest.approx(100 * (1 - mask.sum() / threes))
    assert report.per_writer["pixels"][VALIDATION_WRITERS[1]] == 100.0
    assert report.per_writer["strokes"][VALIDATION_WRITERS[0]] < 100.0
    assert "per writer" in report.table()


def test_training_digits_come_only_from_training_writers(digits: pendigits.PenDigits) -> None:
    images, labels = training_digits(1)
    n_train = len(digits.of_writers(TRAINING_WRITERS))
    assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)
    assert n_train - 5 <= len(labels) <= n_train  # a rare scribble may be "no digit"
    twice, _ = training_digits(2)
    assert len(twice) == 2 * len(images) or abs(len(twice) - 2 * len(images)) <= 10


def test_missing_or_damaged_data_says_what_to_do(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(pendigits.ENV_VAR, raising=False)
    with pytest.raises(DatasetError, match=pendigits.ENV_VAR):
        load_pendigits()
    with pytest.raises(DatasetError, match=r"No pendigits_train_strokes\.npz"):
        load_pendigits(tmp_path)
    (tmp_path / pendigits.FILE_NAME).write_bytes(b"not a zip file")
    with pytest.raises(DatasetError, match="not a pen digits file"):
        load_pendigits(tmp_path)
