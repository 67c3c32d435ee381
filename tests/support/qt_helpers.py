"""A fixture for Qt test files: fail any test that leaves a QThread running."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QThread


@pytest.fixture
def no_thread_leaks(monkeypatch: pytest.MonkeyPatch):
    """Fail a test that leaves a QThread running (napari's dangling-thread check).

    Every QThread.start() during the test is recorded; at the end none may still run. Tests end
    their workers themselves (TrainTab.shutdown() joins every thread of the tab).
    """
    started: list[QThread] = []
    original = QThread.start

    def recording_start(self: QThread, *args: object) -> None:
        started.append(self)
        original(self, *args)

    monkeypatch.setattr(QThread, "start", recording_start)
    yield started
    running = [type(t).__name__ for t in started if t.isRunning()]
    for thread in started:  # do not let one test's thread crash the next one
        thread.wait(30_000)
    if running:
        pytest.fail(f"test left {len(running)} QThread(s) running: {', '.join(running)}")
