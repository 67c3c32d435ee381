"""app.shared.jobs: results, errors, progress and cancels reach the GUI thread; shutdown joins.

Also the jobs built on it: a training run (`app.train.training_job`) and fetching MNIST.
"""

from __future__ import annotations

import gc
import threading
import time
import weakref
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from app.shared.jobs import JobRunner, live_job_threads, shutdown_all
from app.train.data_banner import fetch_job
from app.train.training_job import Download, JobReporter, TrainOutcome, run_training
from core.errors import DatasetError
from core.training.config import TrainConfig
from core.training.control import TrainControl
from core.training.metrics import StepMetrics


class Recorder:
    """What a test needs to know about each callback: its value and the thread it ran on."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object, int]] = []

    def __getattr__(self, kind: str):
        if kind.startswith("on_"):
            return lambda *value: self.calls.append((kind, value[0] if value else None,
                                                     threading.get_ident()))
        raise AttributeError(kind)

    def kinds(self) -> list[str]:
        return [kind for kind, _, _ in self.calls]

    def callbacks(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in ("on_done", "on_error", "on_progress",
                                               "on_partial_result", "on_cancelled")}


def test_result_reaches_on_done_on_the_gui_thread(qtbot) -> None:
    gui = threading.get_ident()
    work_thread: list[int] = []

    def add(a: int, b: int) -> int:
        work_thread.append(threading.get_ident())
        return a + b

    runner, seen = JobRunner(), Recorder()
    runner.start(add, 2, 3, **seen.callbacks())
    assert runner.busy
    qtbot.waitUntil(lambda: bool(seen.calls), timeout=5000)
    assert seen.calls == [("on_done", 5, gui)]
    assert work_thread and work_thread[0] != gui
    assert not runner.busy and not live_job_threads()  # reported after the thread was joined


def test_errors_arrive_as_exceptions_with_their_traceback(qtbot) -> None:
    runner, seen = JobRunner(), Recorder()
    runner.start(lambda: 1 / 0, **seen.callbacks())
    qtbot.waitUntil(lambda: bool(seen.calls), timeout=5000)
    ((kind, error, thread),) = seen.calls
    assert kind == "on_error" and isinstance(error, ZeroDivisionError)
    assert thread == threading.get_ident()
    assert error.__traceback__ is not None  # for the "details" of an error dialog


def test_progress_and_partial_results_arrive_in_order_before_the_result(qtbot) -> None:
    def count(n: int, *, state) -> str:
        for i in range(n):
            state.set_progress(i / n)
            state.set_partial_result(i)
        return "done"

    runner, seen = JobRunner(), Recorder()
    runner.start(count, 4, **seen.callbacks())
    qtbot.waitUntil(lambda: "on_done" in seen.kinds(), timeout=5000)
    assert seen.kinds() == ["on_progress", "on_partial_result"] * 4 + ["on_done"]
    assert [v for k, v, _ in seen.calls if k == "on_partial_result"] == [0, 1, 2, 3]
    assert {t for _, _, t in seen.calls} == {threading.get_ident()}


def test_cancel_stops_a_job_that_listens_and_drops_its_progress(qtbot) -> None:
    listened = threading.Event()

    def loop(*, state) -> str:
        while not state.is_interruption_requested():
            state.set_partial_result("tick")
            time.sleep(0.005)
        listened.set()
        return "ended early"

    runner, seen = JobRunner(), Recorder()
    runner.start(loop, **seen.callbacks())
    qtbot.waitUntil(lambda: "on_partial_result" in seen.kinds(), timeout=5000)
    runner.cancel()
    n_before = len(seen.calls)
    qtbot.waitUntil(lambda: "on_cancelled" in seen.kinds(), timeout=5000)
    assert listened.is_set()
    assert seen.kinds()[n_before:] == ["on_cancelled"]  # no "on_done", no late ticks
    assert not runner.busy


def test_a_newer_start_cancels_the_running_job(qtbot) -> None:
    release = threading.Event()
    runner, first, second = JobRunner(), Recorder(), Recorder()
    runner.start(release.wait, 5, **first.callbacks())
    runner.start(lambda: "second", **second.callbacks())
    release.set()
    qtbot.waitUntil(lambda: bool(first.calls and second.calls), timeout=5000)
    assert first.kinds() == ["on_cancelled"] and second.calls[0][:2] == ("on_done", "second")


def test_shutdown_joins_and_reports_nothing(qtbot) -> None:
    def listening(*, state) -> None:
        while not state.is_interruption_requested():
            time.sleep(0.005)

    runner, seen = JobRunner(), Recorder()
    runner.start(listening, **seen.callbacks())
    assert runner.shutdown(timeout=5.0) is True
    assert not runner.busy and not live_job_threads()
    qtbot.wait(50)
    assert seen.calls == []  # the owner is going away: no callbacks


def test_shutdown_returns_false_when_a_job_ignores_cancel(qtbot) -> None:
    release = threading.Event()
    runner, seen = JobRunner(), Recorder()
    runner.start(release.wait, 30, **seen.callbacks())  # never looks at its state
    t0 = time.perf_counter()
    assert runner.shutdown(timeout=0.3) is False
    assert 0.25 < time.perf_counter() - t0 < 2.0  # it waited for the timeout, no longer
    assert runner.busy and live_job_threads()
    release.set()  # when it does end, it says it was cancelled: its owner can settle then
    qtbot.waitUntil(lambda: seen.kinds() == ["on_cancelled"], timeout=5000)
    assert runner.shutdown(timeout=5.0) is True and not live_job_threads()


def test_shutdown_all_shares_one_deadline(qtbot) -> None:
    release = threading.Event()
    runners = [JobRunner() for _ in range(3)]
    for runner in runners:
        runner.start(release.wait, 30)
    t0 = time.perf_counter()
    assert shutdown_all(runners, timeout=0.3) is False
    assert time.perf_counter() - t0 < 1.0  # not 3 × 0.3 s
    release.set()
    assert shutdown_all(runners, timeout=5.0) is True


def test_an_unhandled_error_goes_to_the_excepthook(qtbot, monkeypatch) -> None:
    import sys

    hooked: list[BaseException] = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, error, tb: hooked.append(error))
    runner = JobRunner()
    runner.start(lambda: 1 / 0)  # no on_error: the error must not vanish
    qtbot.waitUntil(lambda: bool(hooked), timeout=5000)
    assert isinstance(hooked[0], ZeroDivisionError)


def test_dropping_a_runner_with_a_running_job_is_safe(qtbot) -> None:
    release = threading.Event()
    runner = JobRunner()
    runner.start(release.wait, 5)
    (thread,) = live_job_threads()
    held = weakref.ref(thread)
    del runner, thread  # the job's thread is held until joined: Qt would abort on a running QThread
    gc.collect()
    assert held() is not None and held() in live_job_threads()  # the registry holds it
    release.set()
    qtbot.waitUntil(lambda: not live_job_threads(), timeout=5000)
    assert held() is None or held().isFinished()  # joined, then let go


# --- the jobs built on it -------------------------------------------------------------------

class PlainState:
    """A job's `state` without Qt or threads: the work functions are plain functions."""

    def __init__(self) -> None:
        self.progress: list[object] = []
        self.partial: list[object] = []
        self.interrupt = False

    def set_progress(self, value: object) -> None:
        self.progress.append(value)

    def set_partial_result(self, value: object) -> None:
        self.partial.append(value)

    def is_interruption_requested(self) -> bool:
        return self.interrupt


def test_job_reporter_coalesces_steps_to_30_batches_a_second(monkeypatch) -> None:
    import app.train.training_job as training_job

    clock = [100.0]
    monkeypatch.setattr(training_job.time, "monotonic", lambda: clock[0])
    state = PlainState()
    reporter = JobReporter(state)
    for step in range(1, 301):  # 300 steps in one simulated second
        clock[0] += 1 / 300
        reporter.step(StepMetrics(step=step, epoch=step / 300, loss=1.0, lr=0.1))
    reporter.flush()
    batches = [b for b in state.partial if isinstance(b, list)]
    assert [s.step for b in batches for s in b] == list(range(1, 301))  # none lost, in order
    assert 25 <= len(batches) <= 31


def test_run_training_reports_in_order(mnist_dir: Path) -> None:
    config = TrainConfig(model="dl-tiny-1k", device="cpu", epochs=1, batch_size=64,
                         train_subset=640, test_subset=200, log_every=1, augment=0.5,
                         data_dir=str(mnist_dir))
    state = PlainState()
    outcome = run_training(config, None, TrainControl(), state=state)
    assert isinstance(outcome, TrainOutcome) and outcome.status == "completed"
    kinds = [type(p).__name__ for p in state.partial]
    assert kinds[0] == "StartInfo" and kinds[-1] == "EpochMetrics"
    steps = [s.step for p in state.partial if isinstance(p, list) for s in p]
    assert steps == list(range(1, 11))  # every step, in order, however they were batched
    assert all(isinstance(p, str | Download) for p in state.progress)


def test_training_through_a_runner_stops_on_request(qtbot, mnist_dir: Path) -> None:
    config = TrainConfig(model="dl-tiny-1k", device="cpu", epochs=20, batch_size=64,
                         train_subset=2048, test_subset=200, log_every=1,
                         data_dir=str(mnist_dir))
    control, runner, seen = TrainControl(), JobRunner(), Recorder()
    runner.start(run_training, config, None, control, **seen.callbacks())
    qtbot.waitUntil(lambda: "on_partial_result" in seen.kinds(), timeout=60_000)
    control.request_stop()
    qtbot.waitUntil(lambda: "on_done" in seen.kinds(), timeout=30_000)
    outcome = next(v for k, v, _ in seen.calls if k == "on_done")
    assert outcome.status == "stopped"


def _slow_download(url: str, dest: Path, what: str, progress) -> None:
    with open(dest, "wb") as out:
        for i in range(1000):
            out.write(b"x" * 1024)
            progress(what, (i + 1) * 1024, 1000 * 1024)
            time.sleep(0.01)


def test_fetch_job_cancels_mid_file(qtbot, tmp_path: Path, monkeypatch) -> None:
    """Cancel takes effect within one chunk, and the partial file is removed."""
    pytest.importorskip("torchvision")
    import core.data.mnist

    monkeypatch.setattr(core.data.mnist, "_download", _slow_download)
    runner, seen = JobRunner(), Recorder()
    runner.start(fetch_job, tmp_path / "mnist", **seen.callbacks())
    qtbot.waitUntil(lambda: "on_progress" in seen.kinds(), timeout=10_000)
    t0 = time.perf_counter()
    runner.cancel()
    qtbot.waitUntil(lambda: "on_cancelled" in seen.kinds(), timeout=10_000)
    assert time.perf_counter() - t0 < 1.0
    assert isinstance(seen.calls[0][1], Download)
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    assert not [p for p in raw.iterdir() if p.is_file()]  # no partial file left behind


def test_fetch_job_reports_network_errors(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("torchvision")
    import core.data.mnist

    def offline(url: str, dest: Path, what: str, progress) -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr(core.data.mnist, "_download", offline)
    with pytest.raises(DatasetError, match="no network"):
        fetch_job(tmp_path / "mnist", state=PlainState())
