"""The local executor: trials on this machine, one after another or several CPU processes at once.

One at a time (the default) trains in this process on the best device, with torch's threads as
they are. `parallel=N` starts N worker processes, each with its share of the cores as torch
threads (cores // N), which on a multi-core CPU finishes a set of small trials sooner than giving
one trial every core: these nets are too small to keep many threads busy. Workers report their
epochs through a queue; a stop request reaches them through an event, checked between batches.
A worker that dies takes only its trial with it: the trial is recorded as failed (its run reads
as interrupted and is resumed by the next `experiment run`) and the rest go on in a new pool.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from core.errors import ConfigError
from core.experiments.trial import (
    ExperimentReporter,
    TrialOutcome,
    TrialTask,
    one_line,
    run_trial,
)
from core.runs.store import RunStore
from core.training.control import TrainControl
from core.training.metrics import EpochMetrics, StartInfo


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def check_local_limits(parallel: int, threads: int) -> None:
    """Trials at once and threads per trial within what this machine has (ConfigError saying
    the allowed range): more only makes every trial wait for the others."""
    cores = cpu_cores()
    most = max(2, cores)
    if isinstance(parallel, bool) or not isinstance(parallel, int) or not 1 <= parallel <= most:
        raise ConfigError(f"--parallel {parallel} is out of range: run 1 to {most} trials at "
                          f"once on this machine ({cores} cores).")
    if isinstance(threads, bool) or not isinstance(threads, int) or not 0 <= threads <= cores:
        raise ConfigError(f"--threads {threads} is out of range: 1 to {cores} torch threads "
                          f"per trial on this machine, or 0 for the cores split between "
                          f"the trials.")


class LocalExecutor:
    def __init__(self, store: RunStore | None = None, parallel: int = 1,
                 threads: int = 0) -> None:
        """`threads` fixes torch's threads per trial (0: all cores when one at a time, the
        cores split between the workers when parallel)."""
        self.store = store or RunStore()
        check_local_limits(parallel, threads)
        self.parallel = parallel
        self.threads = threads or (0 if self.parallel == 1
                                   else max(1, cpu_cores() // self.parallel))
        self.name = f"local ×{self.parallel}" if self.parallel > 1 else "local"

    @property
    def slots(self) -> int:
        return self.parallel

    def prepare(self, task: TrialTask) -> TrialTask:
        from dataclasses import replace

        return replace(task, threads=self.threads, executor=self.name)

    def run(self, tasks: list[TrialTask], reporter: ExperimentReporter,
            control: TrainControl) -> list[TrialOutcome]:
        tasks = [self.prepare(t) for t in tasks]
        if self.parallel == 1:
            return self._run_here(tasks, reporter, control)
        return self._run_in_processes(tasks, reporter, control)

    def _run_here(self, tasks: list[TrialTask], reporter: ExperimentReporter,
                  control: TrainControl) -> list[TrialOutcome]:
        outcomes = []
        for task in tasks:
            if control.stop_requested:
                break
            outcome = run_trial(task, self.store, reporter, control)
            outcomes.append(outcome)
            reporter.trial_finished(outcome)
        return outcomes

    def _run_in_processes(self, tasks: list[TrialTask], reporter: ExperimentReporter,
                          control: TrainControl) -> list[TrialOutcome]:
        context = multiprocessing.get_context("spawn")  # no fork: torch's threads do not survive it
        events = context.Queue()
        stop = context.Event()
        outcomes: list[TrialOutcome] = []
        started: dict[str, str] = {}  # trial key → its run id, as the workers report them
        attempts: dict[str, int] = {}
        todo = list(tasks)
        while todo and not control.stop_requested:
            pool = ProcessPoolExecutor(max_workers=min(self.parallel, len(todo)),
                                       mp_context=context, initializer=_worker_init,
                                       initargs=(events, stop))
            with pool:
                futures: dict[Future[TrialOutcome], TrialTask] = {
                    pool.submit(_worker_run, t, str(self.store.root)): t for t in todo}
                todo = []
                while futures:
                    if control.stop_requested:
                        stop.set()
                    done, _ = wait(futures, timeout=0.2, return_when=FIRST_COMPLETED)
                    _drain(events, reporter, started)
                    for future in done:
                        task = futures.pop(future)
                        try:
                            outcome = future.result()
                        except BrokenProcessPool:
                            # A worker died (killed, out of memory): every task of the pool ends
                            # here. One that had started is failed (its run reads interrupted and
                            # resumes next time); one that had not goes again, once.
                            attempts[task.key] = attempts.get(task.key, 0) + 1
                            if task.key not in started and attempts[task.key] <= 1:
                                todo.append(task)
                                continue
                            outcome = TrialOutcome(
                                task.key, started.get(task.key, ""), "failed",
                                "its worker process died (killed or out of memory); the run "
                                "resumes on the next `experiment run`")
                        except Exception as error:
                            outcome = TrialOutcome(task.key, started.get(task.key, ""), "failed",
                                                   one_line(error))
                        outcomes.append(outcome)
                        reporter.trial_finished(outcome)
            _drain(events, reporter, started)
        return outcomes


def _drain(events: Any, reporter: ExperimentReporter, started: dict[str, str]) -> None:
    while True:
        try:
            kind, key, payload = events.get_nowait()
        except queue.Empty:
            return
        if kind == "started":
            started[key] = payload["run_id"]
            reporter.trial_started(key, StartInfo(**payload))
        elif kind == "epoch":
            reporter.trial_epoch(key, EpochMetrics.from_dict(payload))
        elif kind == "status":
            reporter.status(payload)


# --- in the worker processes ----------------------------------------------------------------

_events: Any = None
_stop: Any = None


def _worker_init(events: Any, stop: Any) -> None:
    global _events, _stop
    _events, _stop = events, stop


class _QueueReporter(ExperimentReporter):
    def trial_started(self, key: str, info: StartInfo) -> None:
        _events.put(("started", key, info.__dict__))

    def trial_epoch(self, key: str, metrics: EpochMetrics) -> None:
        _events.put(("epoch", key, metrics.to_dict()))

    def status(self, text: str) -> None:
        _events.put(("status", "", text))


class _EventControl(TrainControl):
    """Stops when the parent sets the shared event; a small thread watches it until closed."""

    def __init__(self) -> None:
        super().__init__()
        self._closed = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while not self._closed.is_set():
            if _stop.wait(0.3):
                self.request_stop()
                return

    def close(self) -> None:
        self._closed.set()


def _worker_run(task: TrialTask, store_root: str) -> TrialOutcome:
    control = _EventControl()
    try:
        return run_trial(task, RunStore(store_root), _QueueReporter(), control)
    finally:
        control.close()
