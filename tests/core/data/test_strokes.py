"""Strokes → MNIST digit (the Draw tab's path): MNIST's geometry and stroke width whatever the
pen and size, "no digit" for clicks and ticks, and the bundled model reads small thick digits."""

from __future__ import annotations

import time

import numpy as np
import pytest

from core.data.canvas import canvas_to_mnist
from core.data.pen import MNIST_STROKE_WIDTH, polyline_points, stroke_width
from core.data.pen_proxy import paint_strokes
from core.data.strokes import strokes_to_mnist
from core.onnx_io.classifier import DigitClassifier
from core.paths import bundled_model_path

# A "3" and a "7" as a hand draws them on the 280-unit canvas (pointer samples, canvas units).
THREE = [[(88, 78), (103, 68), (118, 62), (137, 61), (156, 62), (171, 70), (182, 82),
          (181, 97), (178, 112), (165, 123), (150, 132), (138, 136), (126, 138), (141, 140),
          (156, 142), (172, 150), (186, 162), (190, 179), (190, 196), (180, 212), (166, 224),
          (146, 229), (126, 230), (107, 223), (90, 214)]]
SEVEN = [[(78, 72), (120, 70), (165, 68), (204, 70), (188, 100), (168, 135), (150, 172),
          (136, 205), (126, 232)], [(118, 150), (150, 148), (184, 146)]]
YY, XX = np.mgrid[:28, :28]


def scaled(strokes: list, factor: float, centre: tuple[float, float] = (140, 140)) -> list:
    """The same drawing `factor` times as big, around `centre` (canvas units)."""
    return [[(centre[0] + (x - 140) * factor, centre[1] + (y - 140) * factor) for x, y in s]
            for s in strokes]


@pytest.fixture(scope="module")
def model() -> DigitClassifier:
    return DigitClassifier(bundled_model_path())


def test_small_three_drawn_with_a_thick_pen_reads_as_3(model: DigitClassifier) -> None:
    """The issue's case: a 3 about 60 units tall with a wide pen became a blob (read as 8)."""
    small = scaled(THREE, 0.35)  # 59 units tall: a fifth of the canvas
    image = strokes_to_mnist(small)
    assert image is not None
    reading = model.classify(image)
    assert reading.digit == 3 and reading.confidence > 0.8, reading
    # What the pixels of a 44-unit pen look like at that size: strokes thicker than MNIST's.
    painted = canvas_to_mnist(paint_strokes([np.array(s) for s in small], 44.0))
    assert painted is not None
    assert width28(painted) > 1.3 * width28(image)


@pytest.mark.parametrize("strokes", [
    [[(140.0, 140.0)]],  # a single click
    [[(140, 140), (141, 140)], [(150, 150)]],  # a click and a tiny drag
    [[(100, 100), (110, 108), (118, 112)]],  # a tick 22 units long (< 12 % of 280)
    [],  # nothing at all
    [[(float("nan"), 3.0)]],  # garbage points are no drawing either
])
def test_clicks_dots_and_ticks_are_no_digit(strokes: list) -> None:
    assert strokes_to_mnist(strokes) is None


def test_a_short_but_real_stroke_is_a_digit() -> None:
    """The smallest 1 anyone draws (a 40-unit line) is a digit, not a tick."""
    one = strokes_to_mnist([[(140, 120), (140, 160)]])
    assert one is not None and one.max() == pytest.approx(1.0)


def test_mnist_geometry_whatever_the_size_and_place() -> None:
    """Ink box's longer side 20 px, centre of mass at (14, 14) ± 0.5, peak 1: and the same
    digit drawn at 25 % or 85 % of the canvas, anywhere, gives (almost) the same image."""
    images = [strokes_to_mnist(scaled(SEVEN, f, c)) for f, c in
              ((1.0, (140, 140)), (0.3, (60, 70)), (0.3, (220, 200)), (1.4, (140, 140)))]
    for image in images:
        assert image is not None and image.dtype == np.float32 and image.shape == (28, 28)
        rows, cols = np.flatnonzero(image.max(1) > 0), np.flatnonzero(image.max(0) > 0)
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 == 20
        mass = image.sum()
        assert abs((image * YY).sum() / mass - 14) <= 0.5 + 1e-6
        assert abs((image * XX).sum() / mass - 14) <= 0.5 + 1e-6
        assert image.max() == pytest.approx(1.0)
    for other in images[1:]:
        assert np.abs(other - images[0]).max() < 0.1  # resampling differences only


def test_aspect_is_kept() -> None:
    """A tall thin 1 stays thin (the stroke's width, not stretched to 20 px)."""
    one = strokes_to_mnist([[(140, 40), (141, 240)]])
    assert one is not None
    cols = np.flatnonzero(one.max(axis=0) > 0.1)
    assert len(cols) <= 5


def test_stroke_width_is_mnists() -> None:
    """Measured like MNIST's (mass / skeleton length at 4×): the pen draws MNIST's width."""
    for strokes in (THREE, scaled(THREE, 0.3), SEVEN):
        image = strokes_to_mnist(strokes)
        assert width28(image) == pytest.approx(MNIST_STROKE_WIDTH, rel=0.15)


def test_polyline_points_follow_the_painted_path() -> None:
    """Dense points along the canvas's curve: ends exact, gaps ≤ step, through the midpoints,
    never outside the samples' box."""
    samples = np.array([(10.0, 10.0), (50.0, 80.0), (90.0, 20.0), (130.0, 60.0)])
    points = polyline_points(samples, step=0.5)
    np.testing.assert_allclose(points[0], samples[0])
    np.testing.assert_allclose(points[-1], samples[-1])
    assert np.hypot(*np.diff(points, axis=0).T).max() <= 0.5 + 1e-9
    for mid in (samples[:-1] + samples[1:]) / 2:
        assert np.hypot(*(points - mid).T).min() < 0.3
    assert (points >= samples.min(0) - 1e-9).all() and (points <= samples.max(0) + 1e-9).all()


def test_fast_enough_for_live_drawing() -> None:
    """Lenient on a shared box: about 1 ms on an idle one."""
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        strokes_to_mnist(THREE)
        times.append(time.perf_counter() - t0)
    assert np.median(times) < 0.02


def width28(image: np.ndarray) -> float:
    """Stroke width of a 28×28 image in its pixels, measured at 4× (pixel repetition)."""
    return stroke_width(np.kron(image, np.ones((4, 4), np.float32))) / 4


@pytest.mark.parametrize("digit", range(10))
def test_small_digits_drawn_with_a_wide_pen_are_digits_as_their_painting_is(
        digit: int, pen_digits) -> None:
    """A digit whose centre lines span 10 % of the canvas, drawn with the default-size pen of
    20 units: its ink spans 17 %, so the painted canvas is a digit for `canvas_to_mnist`, and
    the strokes must be one too (a small 5 once read "no digit"). Real writers' strokes."""
    from core.data.pendigits import TRAINING_WRITERS, paint_strokes

    digits = pen_digits.of_writers(TRAINING_WRITERS[:1])
    strokes = digits.strokes[int(np.flatnonzero(digits.labels == digit)[0])]
    every = np.concatenate(strokes)
    low, extent = every.min(axis=0), float((every.max(axis=0) - every.min(axis=0)).max())
    small = [(s - low) * (28.0 / extent) + 120 for s in strokes]  # 28 units = 10 % of 280
    assert strokes_to_mnist(small) is None  # without the pen: a speck
    assert strokes_to_mnist(small, pen=20.0) is not None
    assert canvas_to_mnist(paint_strokes(small, 20.0)) is not None


def test_a_click_with_the_widest_pen_is_still_no_digit() -> None:
    """The ink of a 44-unit click spans 16 % of the canvas; its centre lines almost nothing."""
    assert strokes_to_mnist([[(140, 140), (142, 141)]], pen=44.0) is None
    assert strokes_to_mnist([[(140, 140), (148, 146)]], pen=44.0) is None  # a fat tick
