"""How long work talks to its caller: a `Reporter` to send progress, a `TrainControl` to steer it.

Both are plain Python, so the trainer is tested with no Qt and no thread; the GUI subclasses
`Reporter` to turn calls into signals, and calls `TrainControl` from the GUI thread.
"""

from __future__ import annotations

import threading
import time

from core.training.metrics import EpochMetrics, StartInfo, StepMetrics


class Reporter:
    """Receives progress. Every method is a no-op here; override what you need."""

    def status(self, text: str) -> None:
        """A one-line description of what is happening now."""

    def download(self, what: str, done: int, total: int) -> None:
        """Bytes of `what` fetched so far (total 0 when unknown)."""

    def started(self, info: StartInfo) -> None:
        pass

    def step(self, metrics: StepMetrics) -> None:
        pass

    def epoch(self, metrics: EpochMetrics) -> None:
        pass


class TrainControl:
    """Stop and pause requests, safe to set from any thread; checked between batches."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def request_stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused run must wake up to see the stop

    def pause(self) -> None:
        if not self._stop.is_set():
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self) -> float:
        """Block while paused; return the seconds spent waiting (excluded from timings)."""
        if self._running.is_set():
            return 0.0
        t0 = time.perf_counter()
        self._running.wait()
        return time.perf_counter() - t0
