"""QThread adapters: run a core function in its own thread and hear back through Qt signals.

Shaped after napari's workers. Every worker is a `QThread` whose `run()` calls `work()` and then
emits exactly one of `returned(result)`, `errored(exception)` or `aborted()`, followed by the
thread's own `finished()`; long work may also emit `yielded(value)` on the way. Workers emit plain
Python data (dataclasses, numbers, numpy arrays), never torch tensors or widgets.

The worker object lives in the GUI thread, so signals emitted from `run()` reach `@Slot` methods
of GUI objects through queued connections: they run on the GUI thread, where widgets may be
touched. `start()` keeps the worker alive in `_LIVE` until its thread has ended, so dropping the
last Python reference to a running worker cannot destroy a running QThread (Qt aborts on that).

    worker = run_in_thread(evaluate_run, run, on_result=self._show, on_error=self._fail)

torch is never imported here: work functions import it inside the thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QThread, Signal, Slot

from core.errors import ConfigError, DatasetError
from core.training.config import TrainConfig
from core.training.control import Reporter, TrainControl
from core.training.metrics import EpochMetrics, StartInfo, StepMetrics

_LIVE: set[WorkerBase] = set()  # started and not yet joined; see the module docstring


def live_workers() -> list[WorkerBase]:
    """Workers whose threads have not been joined yet (tests check that none leak)."""
    return list(_LIVE)


class WorkerBase(QThread):
    """Runs `work()` in a thread. Subclasses override `work`; callers connect the signals."""

    yielded = Signal(object)  # intermediate results of GeneratorWorker
    returned = Signal(object)  # work()'s return value
    errored = Signal(object)  # the exception work() raised (its __traceback__ is kept)
    aborted = Signal()  # work() ended after request_abort(); its result is dropped

    def __init__(self) -> None:
        # No Qt parent: a parent widget being deleted must never delete a running thread.
        super().__init__()
        self._abort = threading.Event()
        # Queued (the worker object lives in the GUI thread), so this runs after the thread ended.
        self.finished.connect(self._join)

    def work(self) -> Any:
        raise NotImplementedError

    def request_abort(self) -> None:
        """Ask the work to end early; it will emit `aborted` instead of `returned`."""
        self._abort.set()

    @property
    def abort_requested(self) -> bool:
        return self._abort.is_set()

    def start(self) -> None:  # type: ignore[override]
        _LIVE.add(self)
        super().start()

    def run(self) -> None:
        try:
            result = self.work()
        except BaseException as error:  # every failure must reach the GUI
            if self.abort_requested:  # the error is how the work obeyed the request
                self.aborted.emit()
            else:
                self.errored.emit(error)
            return
        if self.abort_requested:
            self.aborted.emit()
        else:
            self.returned.emit(result)

    @Slot()
    def _join(self) -> None:
        # `finished` is emitted from inside the thread just before it ends: wait for the end so
        # that releasing the object below cannot destroy a thread that still runs.
        self.wait()
        _LIVE.discard(self)


class Aborted(Exception):
    """Raised inside work() to end it after `request_abort()`."""


class FunctionWorker(WorkerBase):
    """Calls `fn(*args, **kwargs)` in the thread; `returned` carries its result."""

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self._call = (fn, args, kwargs)

    def work(self) -> Any:
        fn, args, kwargs = self._call
        return fn(*args, **kwargs)


class GeneratorWorker(WorkerBase):
    """Iterates a generator in the thread: each value is `yielded`; abort is checked between."""

    def __init__(self, gen_fn: Callable[..., Generator[Any, None, Any]], *args: Any,
                 **kwargs: Any) -> None:
        super().__init__()
        self._call = (gen_fn, args, kwargs)

    def work(self) -> Any:
        gen_fn, args, kwargs = self._call
        gen = gen_fn(*args, **kwargs)
        while True:
            if self.abort_requested:
                gen.close()
                raise Aborted
            try:
                value = next(gen)
            except StopIteration as stop:
                return stop.value
            self.yielded.emit(value)


def run_in_thread(fn: Callable[..., Any], *args: Any,
                  on_result: Callable[[Any], None] | None = None,
                  on_error: Callable[[BaseException], None] | None = None,
                  **kwargs: Any) -> FunctionWorker:
    """Start `fn(*args, **kwargs)` in a new thread and return its (already started) worker.

    Pass bound `@Slot` methods of GUI objects as callbacks: they run on the GUI thread.
    """
    worker = FunctionWorker(fn, *args, **kwargs)
    if on_result is not None:
        worker.returned.connect(on_result)
    if on_error is not None:
        worker.errored.connect(on_error)
    worker.start()
    return worker


class Jobs:
    """The short workers a widget started (previews, evaluations, exports), for its shutdown."""

    def __init__(self) -> None:
        self._workers: list[WorkerBase] = []

    def start(self, worker: WorkerBase) -> WorkerBase:
        self._workers = [w for w in self._workers if not w.isFinished()]
        self._workers.append(worker)
        worker.start()
        return worker

    @property
    def busy(self) -> bool:
        return any(not w.isFinished() for w in self._workers)

    def join(self) -> None:
        """Ask each to end early and wait for all of them."""
        for worker in self._workers:
            worker.request_abort()
        for worker in self._workers:
            worker.wait()


# --- training -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainOutcome:
    """What the GUI keeps of a finished run (the torch model stays in the worker thread)."""

    run_id: str
    status: str  # "completed" | "stopped"
    epochs_done: int
    history: tuple[EpochMetrics, ...]


STEP_FLUSH_S = 1 / 30  # at most ~30 step batches a second cross to the GUI


class _SignalReporter(Reporter):
    """Turns the trainer's calls into the TrainWorker's signals, coalescing step metrics."""

    def __init__(self, worker: TrainWorker) -> None:
        self.worker = worker
        self.run_id = ""
        self._pending: list[StepMetrics] = []
        self._last_flush = 0.0
        self._last_download = 0.0

    def status(self, text: str) -> None:
        self.worker.status.emit(text)

    def download(self, what: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - self._last_download >= 0.1:
            self._last_download = now
            self.worker.download.emit(what, done, total)

    def started(self, info: StartInfo) -> None:
        self.run_id = info.run_id
        self.worker.run_started.emit(info)

    def step(self, metrics: StepMetrics) -> None:
        self._pending.append(metrics)
        if time.monotonic() - self._last_flush >= STEP_FLUSH_S:
            self.flush()

    def epoch(self, metrics: EpochMetrics) -> None:
        self.flush()
        self.worker.epoch_done.emit(metrics)

    def flush(self) -> None:
        if self._pending:
            self.worker.steps.emit(self._pending)
            self._pending = []
        self._last_flush = time.monotonic()


class TrainWorker(WorkerBase):
    """One training run (new, or `resume` of a stored one): `core.training.launch.start_training`.

    `control` pauses and stops it from the GUI thread; the trainer checks it between batches.
    """

    run_started = Signal(object)  # StartInfo
    steps = Signal(object)  # list[StepMetrics], coalesced
    epoch_done = Signal(object)  # EpochMetrics
    status = Signal(str)
    download = Signal(str, int, int)  # what, bytes done, bytes total (0 = unknown)

    def __init__(self, config: TrainConfig | None, *, resume: str | None = None) -> None:
        super().__init__()
        self.config, self.resume = config, resume
        self.control = TrainControl()

    def request_abort(self) -> None:
        super().request_abort()
        self.control.request_stop()

    def work(self) -> TrainOutcome:
        from core.training.launch import start_training

        reporter = _SignalReporter(self)
        try:
            result = start_training(self.config or TrainConfig(), reporter, self.control,
                                    resume=self.resume)
        except Exception as error:
            if type(error).__name__ == "OutOfMemoryError":  # torch.cuda.OutOfMemoryError
                _free_gpu_memory()
                raise ConfigError("The GPU ran out of memory. Lower the batch size, or train on "
                                  "the CPU.") from error
            raise
        finally:
            reporter.flush()
        return TrainOutcome(reporter.run_id, result.status, result.epochs_done,
                            tuple(result.history))


def _free_gpu_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# --- fetching MNIST -----------------------------------------------------------------------------

class FetchWorker(WorkerBase):
    """Downloads MNIST into `folder`; `request_abort()` cancels within one 64 KB chunk."""

    progress = Signal(str, int, int)  # file name, bytes done, bytes total (0 = unknown)

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = Path(folder)
        self._last = 0.0

    def _progress(self, what: str, done: int, total: int) -> None:
        if self.abort_requested:
            # Raised inside the download loop: core deletes the partial file on its way out.
            raise Aborted
        now = time.monotonic()
        if done == total or now - self._last >= 0.1:
            self._last = now
            self.progress.emit(what, done, total)

    def work(self) -> Path:
        from core.data.mnist import fetch_mnist, find_mnist_files

        folder = fetch_mnist(self.folder, self._progress, lambda: self.abort_requested)
        if find_mnist_files(folder) is None:
            raise DatasetError(f"Fetching finished but the MNIST files are not in {folder}.")
        return folder
