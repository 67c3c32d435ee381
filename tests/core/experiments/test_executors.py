"""Same seed, same numbers: a trial gives the same figures whichever executor runs it, as long as
it gets the same number of torch threads (the order of parallel sums is part of the result)."""

from __future__ import annotations

import pytest

from core.experiments.local import LocalExecutor
from core.experiments.runner import run_experiment
from core.experiments.spec import ExperimentSpec
from core.experiments.storage import ExperimentStore
from core.runs.store import RunStore
from tests.core.experiments.helpers import TINY, TINY_MODEL, Recorder, metrics_of


def two_seeds(name: str) -> ExperimentSpec:
    spec = ExperimentSpec(name, model=TINY_MODEL, seeds=[0, 1], base=dict(TINY))
    spec.validate()
    return spec


@pytest.mark.slow
def test_parallel_processes_give_the_numbers_of_one_at_a_time(mnist_dir, tmp_path) -> None:
    store = ExperimentStore(RunStore(tmp_path / "runs"))
    serial = run_experiment(two_seeds("serial"), LocalExecutor(store.runs, threads=1),
                            store=store)
    recorder = Recorder()
    parallel = run_experiment(two_seeds("parallel"), LocalExecutor(store.runs, parallel=2),
                              store=store, reporter=recorder)
    assert [s.status for s in parallel.states] == ["completed", "completed"]
    for a, b in zip(serial.states, parallel.states, strict=True):
        assert a.run.env["threads"] == b.run.env["threads"] == 1
        assert metrics_of(a.run.history) == metrics_of(b.run.history)
    assert b.run.env["executor"] == "local ×2"
    # Progress crossed from the worker processes: both trials' epochs, started and finished.
    assert sorted(k for k, _ in recorder.epochs) == ["p000-s0"] * 2 + ["p000-s1"] * 2
    assert sorted(o.key for o in recorder.finished) == ["p000-s0", "p000-s1"]
