"""Hostile ONNX files through the Draw tab: a model that loops for hours is refused by the probe
in its child process while the window stays responsive, at start-up too; closing the tab ends the
probe; a model that loops only on real drawings stalls the canvas at most once."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt, QTimer

from app.draw.model_picker import LIVE_RUN_SECONDS
from app.draw.tab import DrawTab
from core.data.my_digits import MyDigits
from core.paths import bundled_model_path
from tests.app.draw.conftest import texts
from tests.support.draw_helpers import LOAD_TIMEOUT_MS, draw_digit, settled
from tests.support.hostile_onnx import loop_model

DASH = [[(0.2, 0.5), (0.5, 0.5), (0.8, 0.5)]]
PROBE_SECONDS = 2  # the child's time limit in these tests (the default is 20 s)


@pytest.fixture(autouse=True)
def short_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITLAB_MODEL_SECONDS", str(PROBE_SECONDS))


def ticking() -> tuple[QTimer, list[float]]:
    """A 20 ms timer recording when it fires: gaps show a blocked GUI thread."""
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(20)
    return timer, ticks


def test_a_model_that_loops_for_hours_is_refused_and_the_window_keeps_working(
        qtbot, tab: DrawTab, tmp_path: Path, dialogs) -> None:
    before = tab.classifier
    path = loop_model(tmp_path / "<b>forever.onnx")
    timer, ticks = ticking()
    began = time.monotonic()
    settled(qtbot, tab.primary.picker, lambda: tab.load_model(str(path)))
    took = time.monotonic() - began
    timer.stop()
    assert tab.classifier is before  # refused; the old model stays
    (box,) = dialogs
    assert f"took more than {PROBE_SECONDS} s" in box.text and "<b>forever.onnx" in box.text
    assert box.text_format == Qt.TextFormat.PlainText
    assert took >= PROBE_SECONDS
    assert max(np.diff(ticks)) < 0.5, "the GUI thread was blocked"  # it kept ticking


def test_closing_the_tab_ends_a_probe_at_once(qtbot, tab: DrawTab, tmp_path: Path) -> None:
    tab.load_model(str(loop_model(tmp_path / "forever.onnx")))
    qtbot.wait(300)  # the child process is starting or running the Loop
    began = time.monotonic()
    assert tab.shutdown(10.0)  # cancelling the job kills the child process
    assert time.monotonic() - began < PROBE_SECONDS + 1.0


@pytest.mark.skipif(not bundled_model_path().is_file(), reason="no bundled model here")
def test_a_remembered_looping_model_does_not_hold_up_the_start(
        qtbot, settings: QSettings, tmp_path: Path, dialogs) -> None:
    path = loop_model(tmp_path / "forever.onnx")
    settings.setValue("draw/model", str(path))
    began = time.monotonic()
    widget = DrawTab(settings=settings, store=MyDigits(tmp_path / "md"))
    qtbot.addWidget(widget)
    assert time.monotonic() - began < 1.0 and widget.loading
    qtbot.waitUntil(lambda: not widget.loading, timeout=LOAD_TIMEOUT_MS)
    assert widget.classifier.path == bundled_model_path().resolve()  # the next candidate
    assert texts(dialogs) == []  # said in the status bar at start-up
    assert settings.value("draw/model") != str(path)  # not tried again at the next start
    assert widget.shutdown(10.0)


def test_a_model_that_loops_only_on_real_drawings_stalls_the_canvas_at_most_once(
        qtbot, tab: DrawTab, tmp_path: Path) -> None:
    # No probe image inks the pixel at (14, 5) (the blank, the ramp, the ten drawn sample
    # digits), so the probe passes it; a long dash, scaled to MNIST's box, does.
    path = loop_model(tmp_path / "sly.onnx", trips_from_centre=True, pixel=(14, 5))
    settled(qtbot, tab.primary.picker, lambda: tab.load_model(str(path)))
    assert tab.classifier.path == path.resolve()
    began = time.monotonic()
    draw_digit(qtbot, tab, DASH)  # ink through (14, 5): the Loop starts
    first = time.monotonic() - began
    assert LIVE_RUN_SECONDS * 0.9 <= first < LIVE_RUN_SECONDS + 2.0
    assert tab.primary.view.prediction is None
    assert tab.primary.view.confidence_text == "the model is too slow: choose another"
    began = time.monotonic()
    draw_digit(qtbot, tab, DASH)
    tab.update_prediction()
    assert time.monotonic() - began < 0.5  # not run again
    assert tab.primary.view.confidence_text == "the model is too slow: choose another"
