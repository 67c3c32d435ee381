"""The Ray executor against the local one, on a two-worker local Ray instance. Skipped where the
cluster extra (ray[tune]) is not installed; scripts/test.sh installs it, so CI runs it."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray", reason="the cluster extra (ray[tune]) is not installed")

from core.experiments.local import LocalExecutor  # noqa: E402
from core.experiments.ray_executor import RayExecutor  # noqa: E402
from core.experiments.runner import run_experiment  # noqa: E402
from core.experiments.spec import ExperimentSpec, SearchSpec  # noqa: E402
from core.experiments.storage import ExperimentStore  # noqa: E402
from core.runs.store import RunStore  # noqa: E402
from tests.core.experiments.helpers import TINY, TINY_MODEL, Recorder, metrics_of  # noqa: E402


@pytest.fixture(scope="module")
def local_ray(mnist_dir):  # type: ignore[no-untyped-def]
    import os

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"DIGITLAB_DATA": os.environ["DIGITLAB_DATA"]}})
    yield ray
    ray.shutdown()


def spec(name: str) -> ExperimentSpec:
    # One good trial and one the trainer refuses (a batch larger than the training images).
    s = ExperimentSpec(name, model=TINY_MODEL, base=dict(TINY),
                       search=SearchSpec("grid", {"batch_size": [50, 5000]}))
    s.validate()
    return s


def test_a_trial_through_ray_gives_the_local_numbers(local_ray, tmp_path) -> None:
    store = ExperimentStore(RunStore(tmp_path / "runs"))
    local = run_experiment(spec("local"), LocalExecutor(store.runs, threads=1), store=store)
    recorder = Recorder()
    executor = RayExecutor(store.runs, address="auto", cpus_per_trial=1)
    remote = run_experiment(spec("ray"), executor, store=store, reporter=recorder)
    good, bad = remote.states
    assert good.status == "completed" and bad.status == "failed"
    assert "larger than the 800 training images" in bad.run.error
    assert good.run.env["executor"].startswith("Ray") and good.run.env["threads"] == 1
    assert metrics_of(good.run.history) == metrics_of(local.states[0].run.history)
    # The whole run folder came home as bytes: checkpoints and steps, loadable here.
    run = store.runs.get(good.run.id)
    assert run.checkpoint_path("last").stat().st_size > 0 and len(run.steps) > 0
    assert run.load_checkpoint("last")["epochs_done"] == 2
    assert [m.epoch for k, m in recorder.epochs if k == "p000-s0"] == [1, 2]
    assert {o.key: o.status for o in recorder.finished} == {"p000-s0": "completed",
                                                            "p001-s0": "failed"}


@pytest.mark.slow
def test_a_dying_worker_is_retried_from_its_last_epoch(local_ray, tmp_path) -> None:
    """Kill the Ray worker after its second epoch came home: Tune retries the trial, the retry
    resumes that same run from epoch 2, and the figures are those of an unbroken run."""
    import os
    import signal
    import threading
    import time

    store = ExperimentStore(RunStore(tmp_path / "runs"))
    base = {**TINY, "epochs": 4, "train_subset": 3000}

    def four_epochs(name: str) -> ExperimentSpec:
        s = ExperimentSpec(name, model=TINY_MODEL, base=dict(base))
        s.validate()
        return s

    killed: dict[str, int] = {}

    def kill_after_second_epoch() -> None:
        deadline = time.monotonic() + 300
        while not killed and time.monotonic() < deadline:
            for record in store.runs.list():
                if (record.experiment or {}).get("name") == "dies" and record.epochs_done >= 2:
                    os.kill(record.pid, signal.SIGKILL)  # the Ray worker training the trial
                    killed.update(pid=record.pid, after=record.epochs_done)
                    return
            time.sleep(0.1)

    threading.Thread(target=kill_after_second_epoch, daemon=True).start()
    recorder = Recorder()
    executor = RayExecutor(store.runs, address="auto", max_failures=2)
    (state,) = run_experiment(four_epochs("dies"), executor, store=store,
                              reporter=recorder).states
    assert killed and killed["after"] < 4
    assert any("retrying from its last epoch" in line for line in recorder.lines)
    assert state.status == "completed" and state.run.epochs_done == 4
    runs = [r for r in store.runs.list() if (r.experiment or {}).get("name") == "dies"]
    assert [r.id for r in runs] == [state.run.id]  # resumed, not started again
    unbroken = run_experiment(four_epochs("whole"), LocalExecutor(store.runs, threads=1),
                              store=store).states[0]
    assert metrics_of(state.run.history) == metrics_of(unbroken.run.history)
