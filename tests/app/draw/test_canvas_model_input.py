"""The canvas gives the model its strokes redrawn MNIST-style: the pen width plays no part, a
click is no digit, and a small digit drawn with a fat pen is read right by the bundled model."""

from __future__ import annotations

import numpy as np
import pytest

from app.draw.canvas import PEN_RANGE, DrawingCanvas
from core.onnx_io.classifier import DigitClassifier
from core.paths import bundled_model_path
from tests.core.data.test_strokes import THREE, scaled


@pytest.fixture
def canvas(qtbot) -> DrawingCanvas:
    widget = DrawingCanvas()
    qtbot.addWidget(widget)
    return widget


def draw(canvas: DrawingCanvas, strokes: list, width: float) -> np.ndarray | None:
    canvas.clear()
    for stroke in strokes:
        canvas.add_stroke(stroke, width)
    return canvas.model_input()


def test_pen_width_8_and_24_give_the_same_image(canvas: DrawingCanvas) -> None:
    for strokes in (THREE, scaled(THREE, 0.35)):
        thin, thick = draw(canvas, strokes, 8), draw(canvas, strokes, 24)
        assert thin is not None and thick is not None
        np.testing.assert_array_equal(thin, thick)
    # The pixels differ a lot, so this is the stroke path at work, not a coincidence.
    draw(canvas, scaled(THREE, 0.35), 8)
    thin_ink = canvas.ink_array().astype(np.float64).sum()
    draw(canvas, scaled(THREE, 0.35), 24)
    assert canvas.ink_array().astype(np.float64).sum() > 2 * thin_ink


def test_a_click_or_a_tick_is_no_digit(canvas: DrawingCanvas) -> None:
    assert canvas.model_input() is None  # empty
    assert draw(canvas, [[(140, 140)]], PEN_RANGE[1]) is None  # a fat click
    assert draw(canvas, [[(140, 140), (150, 146)]], PEN_RANGE[1]) is None  # a fat tick


def test_small_three_with_the_widest_pen_reads_as_3(canvas: DrawingCanvas) -> None:
    image = draw(canvas, scaled(THREE, 0.35), PEN_RANGE[1])
    assert image is not None
    reading = DigitClassifier(bundled_model_path()).classify(image)
    assert reading.digit == 3, reading


def test_the_stroke_in_progress_counts(canvas: DrawingCanvas, qtbot) -> None:
    """While the pointer is down, the model already reads the unfinished stroke."""
    from PySide6.QtCore import QPoint, Qt

    canvas.resize(300, 300)
    canvas.show()
    qtbot.waitExposed(canvas)
    side = min(canvas.width(), canvas.height())
    at = [QPoint(int(side * x / 280), int(side * y / 280)) for x, y in ((140, 40), (140, 240))]
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=at[0])
    qtbot.mouseMove(canvas, at[1])
    assert canvas.strokes == () and canvas.model_input() is not None
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=at[1])


def test_the_stroke_in_progress_joins_the_finished_ones(canvas: DrawingCanvas, qtbot) -> None:
    """A bar drawn, then a stem in progress: the model reads both (a cross), the same image as
    once the stem is finished; not the stem alone, not the bar alone."""
    from PySide6.QtCore import QPoint, Qt

    canvas.resize(300, 300)
    canvas.show()
    qtbot.waitExposed(canvas)
    canvas.add_stroke([(60.0, 140.0), (220.0, 140.0)], 12.0)  # the bar, finished
    bar_alone = canvas.model_input()
    side = min(canvas.width(), canvas.height())
    at = [QPoint(int(side * x / 280), int(side * y / 280)) for x, y in ((140, 40), (140, 240))]
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=at[0])
    qtbot.mouseMove(canvas, at[1])
    drawing = canvas.model_input()
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=at[1])
    assert len(canvas.strokes) == 2
    both = canvas.model_input()
    stem_alone = draw(canvas, [list(canvas.strokes[1].points)], canvas.pen_width)
    assert bar_alone is not None and drawing is not None and both is not None
    assert stem_alone is not None
    assert np.abs(drawing - both).max() < 0.05  # the cross, while the stem is being drawn
    assert np.abs(drawing - stem_alone).max() > 0.5 and np.abs(drawing - bar_alone).max() > 0.5
