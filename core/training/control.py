"""How training talks to the rest: a `Reporter` to send progress, a `TrainControl` to steer it,
a `RunSink` to save the run into.

All plain Python, so the trainer is tested with no Qt and no thread; the GUI subclasses
`Reporter` to turn calls into signals, and calls `TrainControl` from the GUI thread. The run
store's `Run` (core/runs/store.py) is the sink: training never imports the store.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

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


class RunSink(Protocol):
    """Where a training run is saved, epoch by epoch (core.runs.store.Run implements it)."""

    @property
    def id(self) -> str: ...

    def load_checkpoint(self, kind: str, map_location: Any = "cpu") -> dict[str, Any]:
        """A saved checkpoint ("last" to resume from)."""
        ...

    def note_env(self, key: str, value: Any) -> None:
        """Record a fact about how the run trains (device, compilation, time budget)."""
        ...

    def mark_running(self) -> None: ...

    def add_step(self, metrics: StepMetrics) -> None: ...

    def save_epoch(self, metrics: EpochMetrics, state: dict[str, Any]) -> None:
        """The epoch's metrics and its checkpoint (`TrainState.checkpoint()`)."""
        ...

    def mark(self, status: str, error: str = "") -> None:
        """How the run ended: completed, stopped, failed or interrupted (with the error)."""
        ...
