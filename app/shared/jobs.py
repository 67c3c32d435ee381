"""The one way app/ runs work in the background, shaped after Orange3's `ConcurrentMixin`.

A widget owns a `JobRunner` and starts plain functions on it. Each job runs in its own QThread;
what it returns, raises or reports reaches the widget's callbacks on the GUI thread, through
queued Qt signals, so the callbacks may touch widgets (lambdas are fine too):

    self.jobs = JobRunner(self)                      # parent: the owning widget
    self.jobs.start(evaluate_run, run_id, on_done=self._show, on_error=self._failed)
    ...
    self.jobs.shutdown(timeout=10.0)                 # on close: False if a job would not stop

The API:
- `start(fn, *args, on_done=, on_error=, on_progress=, on_partial_result=, on_cancelled=)`
  runs `fn(*args)` in a new thread. One job at a time per runner: `start` first cancels the job
  still running (its outcome is then reported as cancelled). Two things at once: two runners.
- If `fn` has a parameter named `state`, it gets a `JobState` (a `core.jobs.Job`) as that
  keyword. Through it the function reports progress (`state.set_progress(value)` →
  `on_progress(value)`: a status line, bytes downloaded) and pieces of its result
  (`state.set_partial_result(value)` → `on_partial_result(value)`: metrics as they come), and
  checks `state.is_interruption_requested()` between steps. Such a function knows nothing of
  Qt, so it is tested without a thread (pass `core.jobs.ConsoleJob` or any recorder).
- Exactly one of `on_done(result)`, `on_error(exception)` or `on_cancelled()` runs per job, once
  its thread has ended and been joined. A job cancelled (by `cancel()` or a newer `start()`)
  reports `on_cancelled()` however it ended, and its later progress is dropped. An error with no
  `on_error` goes to `sys.excepthook` (printed; a failing test under pytest-qt).
- `cancel()` asks without waiting. `busy` is True while a job started here has not ended.
- `shutdown(timeout)` cancels and waits up to `timeout` seconds in all; True when every thread of
  this runner has ended. Jobs that ended within it report nothing (the owner is going away); one
  still running reports `on_cancelled()` whenever it ends, so its owner can settle then.
  `shutdown_all(runners, timeout)` does it for several runners under one deadline.
- `live_job_threads()`: job threads (of any runner) that are still running or not yet joined;
  the test suite fails a test that leaves one running.

Work functions emit plain Python data (dataclasses, numbers, numpy arrays), never widgets.
torch is never imported here: work functions import it inside their thread.
"""

from __future__ import annotations

import inspect
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QThread, Signal, Slot

# A QThread object destroyed while its thread runs aborts the whole process, so every job thread
# is held here from start until joined: dropping a runner (or its widget) can never do that.
_UNJOINED: set[_JobThread] = set()


def live_job_threads() -> list[QThread]:
    """Job threads not yet joined (running, or ended with their outcome still queued)."""
    return list(_UNJOINED)


class JobState:
    """What a work function gets as `state`: the app's `core.jobs.Job`.

    `progress` and `partial` receive what the work reports (a job thread passes its signals'
    emit, so values cross to the GUI thread queued); `request_interruption` is the runner's.
    """

    def __init__(self, progress: Callable[[object], None] = lambda value: None,
                 partial: Callable[[object], None] = lambda value: None) -> None:
        self._interrupt = threading.Event()
        self._progress = progress
        self._partial = partial

    def set_progress(self, value: object) -> None:
        """How far the work is: any plain value (a status line, a (done, total) pair)."""
        self._progress(value)

    def set_partial_result(self, value: object) -> None:
        """A piece of the result, usable before the whole (metrics of one epoch)."""
        self._partial(value)

    def is_interruption_requested(self) -> bool:
        """True once the job was cancelled: stop soon (raise or return, either is fine)."""
        return self._interrupt.is_set()

    def request_interruption(self) -> None:
        """Cancel: from now on the work hears `is_interruption_requested()` as True."""
        self._interrupt.set()


@dataclass
class _Callbacks:
    on_done: Callable[[Any], None] | None = None
    on_error: Callable[[BaseException], None] | None = None
    on_progress: Callable[[Any], None] | None = None
    on_partial_result: Callable[[Any], None] | None = None
    on_cancelled: Callable[[], None] | None = None


class _JobThread(QThread):
    """One job. The object lives in the GUI thread, so its slots below run there: signals
    emitted from `run()` reach them queued, in the order they were emitted."""

    _progress = Signal(object)
    _partial = Signal(object)

    def __init__(self, runner: JobRunner, fn: Callable[..., Any], args: tuple[Any, ...],
                 callbacks: _Callbacks) -> None:
        super().__init__()  # no Qt parent: deleting a widget must never delete a running thread
        self._runner, self._callbacks = runner, callbacks
        self.state = JobState(self._progress.emit, self._partial.emit)
        kwargs = {"state": self.state} if _wants_state(fn) else {}
        self._call: Callable[[], Any] = lambda: fn(*args, **kwargs)
        self._outcome: tuple[str, Any] = ("cancelled", None)
        self._joined = False
        self._silent = False  # ended within a shutdown: the owner is going away, report nothing
        self._progress.connect(self._deliver_progress)
        self._partial.connect(self._deliver_partial)
        self.finished.connect(self.join)  # queued: runs once the thread has (nearly) ended

    @property
    def cancelled(self) -> bool:
        return self.state.is_interruption_requested()

    def run(self) -> None:
        try:
            self._outcome = ("done", self._call())
        except BaseException as error:  # every failure must reach the GUI, traceback kept
            self._outcome = ("error", error)

    def _may_report(self) -> bool:
        # The runner is a child of its widget: once Qt deleted them, nobody is left to tell.
        return not self._silent and shiboken6.isValid(self._runner)

    @Slot(object)
    def _deliver_progress(self, value: object) -> None:
        if not self.cancelled and self._may_report() and self._callbacks.on_progress:
            self._callbacks.on_progress(value)

    @Slot(object)
    def _deliver_partial(self, value: object) -> None:
        if not self.cancelled and self._may_report() and self._callbacks.on_partial_result:
            self._callbacks.on_partial_result(value)

    @Slot()
    def join(self, silent: bool = False) -> None:
        """Wait for the thread's very end, release it, then report its outcome (once).
        `silent`: it ended within a shutdown, the owner is going away: report nothing."""
        if self._joined:
            return
        self._silent = self._silent or silent
        self.wait()
        self._joined = True
        _UNJOINED.discard(self)
        if shiboken6.isValid(self._runner):
            self._runner.release(self)
        if not self._may_report():
            return
        kind, value = self._outcome
        cb = self._callbacks
        if self.cancelled or kind == "cancelled":
            if cb.on_cancelled:
                cb.on_cancelled()
        elif kind == "done":
            if cb.on_done:
                cb.on_done(value)
        elif cb.on_error:
            cb.on_error(value)
        else:
            sys.excepthook(type(value), value, value.__traceback__)


def _wants_state(fn: Callable[..., Any]) -> bool:
    try:
        return "state" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False


class JobRunner(QObject):
    """Runs one background job at a time for the widget that owns it (see the module docstring)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._current: _JobThread | None = None
        self._threads: list[_JobThread] = []  # started here, not yet joined (cancelled too)

    def start(self, fn: Callable[..., Any], *args: Any,
              on_done: Callable[[Any], None] | None = None,
              on_error: Callable[[BaseException], None] | None = None,
              on_progress: Callable[[Any], None] | None = None,
              on_partial_result: Callable[[Any], None] | None = None,
              on_cancelled: Callable[[], None] | None = None) -> None:
        """Cancel the running job, if any, and run `fn(*args)` (plus `state=`) in a new thread."""
        self.cancel()
        thread = _JobThread(self, fn, args, _Callbacks(on_done, on_error, on_progress,
                                                       on_partial_result, on_cancelled))
        self._current = thread
        self._threads.append(thread)
        _UNJOINED.add(thread)
        thread.start()

    @property
    def busy(self) -> bool:
        """A job started here has not ended yet (a cancelled one still finishing counts)."""
        return bool(self._threads)

    def cancel(self) -> None:
        """Ask the running job to stop; do not wait. Its outcome will read as cancelled."""
        if self._current is not None:
            self._current.state.request_interruption()
            self._current = None

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Cancel, then wait up to `timeout` s for every thread of this runner; True if all
        ended. No callback runs for the jobs that ended within the timeout."""
        return shutdown_all([self], timeout)

    def join_until(self, deadline: float) -> bool:
        """Wait for this runner's threads until `deadline` (time.monotonic()); True if all
        ended. Those that ended are joined silently; one still running reports
        `on_cancelled()` whenever it ends."""
        ended = True
        for thread in list(self._threads):
            left_ms = max(0, int((deadline - time.monotonic()) * 1000))
            if thread.wait(left_ms):
                thread.join(silent=True)
            else:
                ended = False
        return ended

    def release(self, thread: _JobThread) -> None:
        """Forget `thread`: called by the thread itself once it is joined."""
        if thread in self._threads:
            self._threads.remove(thread)
        if self._current is thread:
            self._current = None


def shutdown_all(runners: Iterable[JobRunner], timeout: float = 30.0) -> bool:
    """`shutdown` for several runners under one deadline: all are cancelled first, then joined."""
    runners = list(runners)
    for runner in runners:
        runner.cancel()
    deadline = time.monotonic() + timeout
    return all([runner.join_until(deadline) for runner in runners])  # every runner waited on
