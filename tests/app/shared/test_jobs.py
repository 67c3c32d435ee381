"""app.shared.jobs: results, errors and aborts reach the GUI thread; the train and fetch workers."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from app.shared.jobs import (
    FetchWorker,
    GeneratorWorker,
    TrainOutcome,
    TrainWorker,
    run_in_thread,
)
from core.errors import DatasetError
from core.training.config import TrainConfig
from tests.support.qt_helpers import no_thread_leaks  # noqa: F401 (a fixture)


@pytest.fixture(autouse=True)
def _fail_on_leaked_threads(no_thread_leaks):  # noqa: F811
    yield


def test_function_worker_returns_on_the_gui_thread(qtbot) -> None:
    gui = threading.get_ident()
    seen: dict[str, object] = {}

    def work(a: int, b: int) -> int:
        seen["worker_thread"] = threading.get_ident()
        return a + b

    def on_result(value: int) -> None:
        seen["result"], seen["callback_thread"] = value, threading.get_ident()

    worker = run_in_thread(work, 2, 3, on_result=on_result)
    qtbot.waitUntil(lambda: "result" in seen, timeout=5000)
    worker.wait()
    assert seen["result"] == 5
    assert seen["worker_thread"] != gui and seen["callback_thread"] == gui


def test_errors_arrive_as_exceptions(qtbot) -> None:
    errors: list[BaseException] = []
    worker = run_in_thread(lambda: 1 / 0, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    worker.wait()
    assert isinstance(errors[0], ZeroDivisionError)
    assert errors[0].__traceback__ is not None  # for the "details" of an error dialog


def test_generator_worker_yields_and_aborts(qtbot) -> None:
    def count():
        for i in range(1000):
            time.sleep(0.005)
            yield i
        return "never"

    worker = GeneratorWorker(count)
    values: list[int] = []
    worker.yielded.connect(values.append)
    returned: list[object] = []
    worker.returned.connect(returned.append)
    with qtbot.waitSignal(worker.aborted, timeout=5000):
        worker.start()
        qtbot.waitUntil(lambda: len(values) >= 3, timeout=5000)
        worker.request_abort()
    worker.wait()
    assert values[:3] == [0, 1, 2] and not returned


def test_generator_worker_returns_its_value(qtbot) -> None:
    def two():
        yield 1
        return "done"

    worker = GeneratorWorker(two)
    with qtbot.waitSignal(worker.returned, timeout=5000) as blocker:
        worker.start()
    worker.wait()
    assert blocker.args == ["done"]


def test_dropping_a_running_worker_is_safe(qtbot) -> None:
    event = threading.Event()
    run_in_thread(event.wait, 5)  # no reference kept: app.shared.jobs holds it until joined
    import gc

    gc.collect()
    event.set()
    from app.shared.jobs import live_workers

    qtbot.waitUntil(lambda: not live_workers(), timeout=5000)


def test_train_worker_reports_in_order(qtbot, mnist_dir: Path) -> None:
    config = TrainConfig(model="dl-tiny-1k", device="cpu", epochs=1, batch_size=64,
                         train_subset=640, test_subset=200, log_every=1, augment=0.5)
    worker = TrainWorker(config)
    events: list[str] = []
    steps: list[int] = []
    worker.run_started.connect(lambda info: events.append("started"))
    worker.steps.connect(lambda batch: (events.append("steps"), steps.extend(
        s.step for s in batch)))
    worker.epoch_done.connect(lambda m: events.append("epoch"))
    with qtbot.waitSignal(worker.returned, timeout=60_000) as blocker:
        worker.start()
    worker.wait()
    outcome = blocker.args[0]
    assert isinstance(outcome, TrainOutcome) and outcome.status == "completed"
    assert events[0] == "started" and events[-1] == "epoch"
    assert steps == list(range(1, 11))  # every step, in order, however they were batched
    assert events.count("steps") <= 10


def test_fetch_worker_cancels_mid_file(qtbot, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Cancel takes effect within one chunk, and the partial file is removed."""
    pytest.importorskip("torchvision")
    import core.data.mnist

    def slow_download(url: str, dest: Path, what: str, progress) -> None:
        with open(dest, "wb") as out:
            for i in range(1000):
                out.write(b"x" * 1024)
                progress(what, (i + 1) * 1024, 1000 * 1024)
                time.sleep(0.01)

    monkeypatch.setattr(core.data.mnist, "_download", slow_download)
    worker = FetchWorker(tmp_path / "mnist")
    progress: list[int] = []
    worker.progress.connect(lambda what, done, total: progress.append(done))
    with qtbot.waitSignal(worker.aborted, timeout=10_000):
        worker.start()
        qtbot.waitUntil(lambda: bool(progress), timeout=5000)
        t0 = time.perf_counter()
        worker.request_abort()
    worker.wait()
    assert time.perf_counter() - t0 < 1.0
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    assert not [p for p in raw.iterdir() if p.is_file()]  # no partial file left behind


def test_fetch_worker_reports_network_errors(qtbot, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torchvision")
    import core.data.mnist

    def offline(url: str, dest: Path, what: str, progress) -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr(core.data.mnist, "_download", offline)
    worker = FetchWorker(tmp_path / "mnist")
    with qtbot.waitSignal(worker.errored, timeout=10_000) as blocker:
        worker.start()
    worker.wait()
    assert isinstance(blocker.args[0], DatasetError)
    assert "no network" in str(blocker.args[0])
