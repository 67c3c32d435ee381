"""Running experiments locally: every trial a tagged run, failures recorded, resumes exact."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.experiments.local import LocalExecutor
from core.experiments.runner import run_experiment
from core.experiments.spec import AshaSpec, ExperimentSpec, SearchSpec
from core.experiments.storage import ExperimentStore
from core.runs.store import RunStore
from core.training.control import TrainControl
from tests.core.experiments.helpers import TINY, TINY_MODEL, Recorder, metrics_of


def tiny_spec(name: str, **kwargs) -> ExperimentSpec:  # type: ignore[no-untyped-def]
    spec = ExperimentSpec(name, model=TINY_MODEL, base=dict(TINY), **kwargs)
    spec.validate()
    return spec


def test_the_run_record_keeps_the_experiment_tag(tmp_path) -> None:
    store = RunStore(tmp_path / "runs")
    run = store.create({"model": TINY_MODEL}, experiment={"name": "e", "trial": "p000-s0"})
    run.mark("stopped")
    assert store.get(run.id).record.experiment == {"name": "e", "trial": "p000-s0"}
    assert store.create({"model": TINY_MODEL}).record.experiment is None


@pytest.mark.slow
def test_a_failing_trial_is_recorded_and_the_others_run(mnist_dir, tmp_path) -> None:
    store = ExperimentStore(RunStore(tmp_path / "runs"))
    # 2,000 images is too few for one batch of 5,000: that trial fails inside the trainer.
    spec = tiny_spec("fail", search=SearchSpec("grid", {"batch_size": [5000, 50]}))
    recorder = Recorder()
    outcome = run_experiment(spec, LocalExecutor(store.runs, threads=1), store=store,
                             reporter=recorder)
    statuses = {s.trial.key: s.status for s in outcome.states}
    assert statuses == {"p000-s0": "failed", "p001-s0": "completed"}
    failed = outcome.states[0].run
    assert failed is not None and "larger than the 800 training images" in failed.error
    assert failed.experiment["trial"] == "p000-s0" and failed.experiment["name"] == "fail"
    done = outcome.states[1].run
    assert done.experiment["values"] == {"batch_size": 50} and len(done.history) == 2
    assert [o.status for o in recorder.finished] == ["failed", "completed"]
    assert [k for k, _ in recorder.epochs] == ["p001-s0", "p001-s0"]
    # Every trial is an ordinary run in the store, and the experiment's files are beside it.
    assert len(store.runs.list()) == 2
    assert (store.root / "fail" / "experiment.toml").is_file()
    # Run again: nothing left to do (the failure stays recorded unless retried).
    again = run_experiment(spec, LocalExecutor(store.runs, threads=1), store=store)
    assert again.trials_run == 0 and len(store.runs.list()) == 2
    retried = run_experiment(spec, LocalExecutor(store.runs, threads=1), store=store,
                             retry_failed=True)
    assert retried.trials_run == 1 and retried.states[0].status == "failed"


class _StopAfterFirstEpoch(Recorder):
    def __init__(self, control: TrainControl) -> None:
        super().__init__()
        self.control = control

    def trial_epoch(self, key, metrics) -> None:  # type: ignore[no-untyped-def]
        super().trial_epoch(key, metrics)
        self.control.request_stop()


@pytest.mark.slow
def test_an_interrupted_experiment_resumes_to_the_same_numbers(mnist_dir, tmp_path) -> None:
    store = ExperimentStore(RunStore(tmp_path / "runs"))
    executor = LocalExecutor(store.runs, threads=1)
    unbroken = run_experiment(tiny_spec("whole"), executor, store=store)
    control = TrainControl()
    stopped = run_experiment(tiny_spec("broken"), executor, store=store,
                             reporter=_StopAfterFirstEpoch(control), control=control)
    assert stopped.states[0].status == "stopped" and stopped.states[0].run.epochs_done == 1
    resumed = run_experiment(tiny_spec("broken"), executor, store=store)
    assert resumed.trials_run == 1
    run = resumed.states[0].run
    assert run.id == stopped.states[0].run.id  # the same run, continued
    assert run.status == "completed" and run.epochs_done == 2
    assert metrics_of(run.history) == metrics_of(unbroken.states[0].run.history)
    sessions = store.sessions("broken")
    assert [s["trials_run"] for s in sessions] == [1, 1]
    run_experiment(tiny_spec("broken"), executor, store=store)  # nothing left: no new session
    assert len(store.sessions("broken")) == 2


def test_a_definition_that_changed_is_refused(tmp_path) -> None:
    store = ExperimentStore(RunStore(tmp_path / "runs"))
    store.save(tiny_spec("same"))
    store.save(tiny_spec("same"))  # the same definition again: resuming is fine
    with pytest.raises(ConfigError, match="already exists with another definition"):
        store.save(tiny_spec("same", seeds=[0, 1]))


def test_choosing_needs_a_validation_split(tmp_path) -> None:
    store = ExperimentStore(RunStore(tmp_path / "runs"))
    spec = ExperimentSpec("asha", model=TINY_MODEL, base={**TINY, "val_split": 0},
                          asha=AshaSpec())
    spec.validate()
    with pytest.raises(ConfigError, match="give it a validation split"):
        run_experiment(spec, LocalExecutor(store.runs), store=store)
    assert store.runs.list() == []


def test_bad_settings_are_refused_before_any_trial_runs(tmp_path) -> None:
    store = ExperimentStore(RunStore(tmp_path / "runs"))
    spec = tiny_spec("bad", search=SearchSpec("grid", {"lr": [0.1, -1.0]}))
    with pytest.raises(ConfigError, match="learning rate must be positive"):
        run_experiment(spec, LocalExecutor(store.runs), store=store)
    assert store.runs.list() == []
