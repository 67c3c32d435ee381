"""The event-loop stall meter used by the GUI stall test and benchmark, on a real event loop."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QTimer

from tests.support.stall_meter import StallMeter


def test_summary_before_any_tick_says_what_happened(qapp) -> None:
    with pytest.raises(RuntimeError, match="never turned"):
        StallMeter().summary()


def test_a_blocked_gui_thread_shows_up_as_the_worst_gap(qtbot) -> None:
    meter = StallMeter(interval_ms=10)
    meter.start()
    qtbot.wait(100)  # the loop turns freely: gaps near 10 ms
    QTimer.singleShot(0, lambda: time.sleep(0.25))  # then the GUI thread blocks for 250 ms
    qtbot.wait(150)
    meter.stop()
    stall = meter.summary()
    assert stall["ticks"] >= 5
    assert stall["median_ms"] < 60
    assert 240 <= stall["worst_ms"] < 1000
    ticks = stall["ticks"]
    qtbot.wait(50)
    assert meter.summary()["ticks"] == ticks  # stopped means stopped
