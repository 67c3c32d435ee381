"""Random and TPE searches (Optuna): points sampled reproducibly, kept for resumes, and TPE told
each finished point's objective. The trials here are recorded, not trained: what is tested is
the search loop, not the trainer."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("optuna", reason="random and TPE searches need digitlab[search]")

from core.experiments.runner import run_experiment
from core.experiments.spec import ExperimentSpec, Range, SearchSpec
from core.experiments.storage import ExperimentStore
from core.experiments.trial import TrialOutcome
from core.runs.store import RunStore
from tests.core.experiments.helpers import recorded_trial


class RecordingExecutor:
    """Stands in for training: records each trial with a validation accuracy that peaks at
    lr = 0.02, so a search has something to find."""

    name, slots = "recording", 2

    def __init__(self, store: ExperimentStore) -> None:
        self.store = store
        self.batches: list[list[str]] = []

    def run(self, tasks, reporter, control):  # type: ignore[no-untyped-def]
        self.batches.append([t.key for t in tasks])
        outcomes = []
        for task in tasks:
            lr = task.config["lr"]
            val = 99.0 - 10 * abs(math.log10(lr / 0.02))
            run_id = recorded_trial(self.store.runs, task.experiment, task.key, [99.0],
                                    [val])
            outcomes.append(TrialOutcome(task.key, run_id, "completed"))
        return outcomes


def search(name: str, kind: str, seed: int = 0, n: int = 4) -> ExperimentSpec:
    spec = ExperimentSpec(name, model="dl-tiny-1k", base={"val_split": 100, "device": "cpu"},
                          search=SearchSpec(kind, {"lr": Range(0.001, 0.2, log=True),
                                                   "ema": [True, False]},
                                            n_trials=n, sampler_seed=seed))
    spec.validate()
    return spec


def test_random_points_are_reproducible_and_kept(tmp_path) -> None:
    store = ExperimentStore(RunStore(tmp_path / "runs"))
    executor = RecordingExecutor(store)
    first = run_experiment(search("r1", "random"), executor, store=store)
    same = run_experiment(search("r2", "random"), executor, store=store)
    other = run_experiment(search("r3", "random", seed=1), executor, store=store)

    def values(outcome):  # type: ignore[no-untyped-def]
        return [s.trial.point.values for s in outcome.states]

    assert len(first.states) == 4 and values(first) == values(same) != values(other)
    assert all(0.001 <= v["lr"] <= 0.2 and v["ema"] in (True, False) for v in values(first))
    assert store.points("r1") == [s.trial.point for s in first.states]
    assert run_experiment(search("r1", "random"), executor, store=store).trials_run == 0


def test_tpe_asks_in_batches_and_finds_the_peak(tmp_path) -> None:
    store = ExperimentStore(RunStore(tmp_path / "runs"))
    executor = RecordingExecutor(store)
    outcome = run_experiment(search("t", "tpe", n=12), executor, store=store)
    assert len(outcome.states) == 12 and all(s.status == "completed" for s in outcome.states)
    assert [len(b) for b in executor.batches] == [2] * 6  # two slots, one seed: two at a time
    best = max(outcome.states, key=lambda s: s.history_value("val_acc"))
    assert abs(math.log10(best.trial.point.values["lr"] / 0.02)) < 0.5
    assert run_experiment(search("t", "tpe", n=12), executor, store=store).trials_run == 0
