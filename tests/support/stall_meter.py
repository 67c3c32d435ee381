"""Measures how long the GUI thread's event loop goes without turning (benchmarks, tests)."""

from __future__ import annotations

import statistics
import time

from PySide6.QtCore import QObject, QTimer


class StallMeter(QObject):
    """A short-interval QTimer on the GUI thread that records the gaps between its ticks.

    A gap much longer than the interval is time the window could not react to the user.
    """

    def __init__(self, interval_ms: int = 10, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.gaps_ms: list[float] = []
        self._last = 0.0
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.gaps_ms.clear()
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps_ms.append((now - self._last) * 1000)
        self._last = now

    def summary(self) -> dict[str, float]:
        """worst, p99 and median gap in ms and the tick count (needs at least one tick)."""
        if not self.gaps_ms:
            raise RuntimeError("the event loop never turned while the stall meter ran")
        gaps = sorted(self.gaps_ms)
        return {"worst_ms": gaps[-1], "p99_ms": gaps[int(0.99 * (len(gaps) - 1))],
                "median_ms": statistics.median(gaps), "ticks": len(gaps)}
