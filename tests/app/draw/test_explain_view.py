"""The Draw tab's "Explain the reading" (issue 25.4): a map of the newest drawing, computed in a
background job, stale results dropped, nothing done while it is off."""

from __future__ import annotations

import os

import numpy as np

from tests.support.draw_helpers import ONE, SEVEN, draw_digit

SHOTS = os.environ.get("DIGITLAB_SHOTS", "")  # a folder: save what the tests render, to look at


def test_off_by_default_and_no_job_while_off(qtbot, tab) -> None:
    assert not tab.explain.enabled and not tab.explain.heat.isVisible()
    draw_digit(qtbot, tab)
    tab.update_prediction()
    assert not tab.explain.busy and tab.explain.maps_shown == 0


def test_the_map_follows_the_newest_drawing(qtbot, tab, settings) -> None:
    tab.explain.toggle.setChecked(True)
    assert settings.value("draw/explain") in (True, "true")
    draw_digit(qtbot, tab, SEVEN)
    tab.update_prediction()
    qtbot.waitUntil(lambda: tab.explain.heat.has_map() and not tab.explain.busy, timeout=20_000)
    digit = tab.primary.view.prediction.digit
    assert tab.explain.caption.text().startswith(f"Red: ink for {digit}.")
    if SHOTS:
        tab.grab().save(os.path.join(SHOTS, "draw-explain.png"))
    # Three drawings in a row while maps compute: only the last one's map is shown.
    before = tab.explain.maps_shown
    for strokes in (ONE, SEVEN, ONE):
        tab.canvas.clear()
        draw_digit(qtbot, tab, strokes)
        tab.update_prediction()
    qtbot.waitUntil(lambda: not tab.explain.busy, timeout=20_000)
    final = tab.explain.maps_shown - before
    assert 1 <= final <= 3 and final + tab.explain.maps_dropped >= 1
    from core.onnx_io.explain import heat_rgb, occlusion

    expected = heat_rgb(occlusion(tab.classifier, tab.image28), tab.image28)
    shown = tab.explain.heat._image
    pixels = np.array([[shown.pixelColor(x, y).getRgb()[:3] for x in range(28)]
                       for y in range(28)], dtype=np.uint8)
    assert np.array_equal(pixels, expected)  # the map on screen is the newest drawing's


def test_a_cleared_canvas_clears_the_map(qtbot, tab) -> None:
    tab.explain.toggle.setChecked(True)
    draw_digit(qtbot, tab)
    tab.update_prediction()
    qtbot.waitUntil(lambda: tab.explain.heat.has_map() and not tab.explain.busy, timeout=20_000)
    tab.canvas.clear()
    tab.update_prediction()
    assert not tab.explain.heat.has_map() and tab.explain.heat.note == "no digit"
