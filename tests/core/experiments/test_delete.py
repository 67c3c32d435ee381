"""Deleting an experiment (issue 23.6): its folder and its trial runs, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError, RunBusyError
from core.experiments.spec import ExperimentSpec
from core.experiments.storage import ExperimentStore
from tests.core.cli.test_cli import cli
from tests.core.experiments.helpers import recorded_trial


def _experiment(store: ExperimentStore, name: str) -> list[str]:
    store.save(ExperimentSpec(name=name, model="dl-tiny-1k", seeds=[0, 1]))
    return [recorded_trial(store.runs, name, "p000-s0", [50.0]),
            recorded_trial(store.runs, name, "p000-s1", [51.0])]


def test_delete_removes_the_folder_and_its_trial_runs_only() -> None:
    store = ExperimentStore()
    mine = _experiment(store, "gone")
    other = _experiment(store, "kept")
    plain = store.runs.create({"model": "dl-tiny-1k", "epochs": 1})
    plain.mark("completed")

    assert store.delete("gone") == 2
    assert store.names() == ["kept"] and not store.folder("gone").exists()
    left = {r.id for r in store.runs.list()}
    assert not left & set(mine) and set(other) | {plain.id} == left
    # The name is free again, and a new experiment of that name adopts no old runs.
    store.save(ExperimentSpec(name="gone", model="dl-tiny-1k", seeds=[0, 1]))
    assert [s.status for s in store.states("gone", points=[])] == []
    assert store.trial_runs("gone") == {}


def test_delete_refuses_while_a_trial_trains_and_removes_nothing() -> None:
    store = ExperimentStore()
    _experiment(store, "busy")
    training = store.runs.create({"model": "dl-tiny-1k", "epochs": 1},
                                 experiment={"name": "busy", "trial": "p001-s0"})
    try:
        with pytest.raises(RunBusyError, match="stop it before deleting"):
            store.delete("busy")
        assert store.exists("busy") and len(store.runs.list()) == 3
    finally:
        training.release_lock()


def test_delete_a_damaged_folder_and_a_link_without_touching_its_target(tmp_path: Path) -> None:
    store = ExperimentStore()
    store.root.mkdir(parents=True)
    (store.root / "half").mkdir()  # a definition never written: no experiment.toml
    (store.root / "half" / "points.json").write_text("{")
    assert store.delete("half") == 0 and not (store.root / "half").exists()

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "experiment.toml").write_text('name = "linked"\n')
    (store.root / "linked").symlink_to(outside)
    store.delete("linked")
    assert not (store.root / "linked").exists() and (outside / "experiment.toml").is_file()


@pytest.mark.parametrize("name", ["../runs", "nope", "", ".deleting-x"])
def test_delete_refuses_what_is_not_an_experiment(name: str) -> None:
    store = ExperimentStore()
    store.runs.root.mkdir(parents=True)
    with pytest.raises(ConfigError):
        store.delete(name)
    assert store.runs.root.is_dir()


def test_cli_delete() -> None:
    store = ExperimentStore()
    _experiment(store, "cli-gone")
    out = cli("experiment", "delete", "cli-gone")
    assert "Deleted experiment cli-gone and its 2 trial runs." in out.stdout
    again = cli("experiment", "delete", "cli-gone", check=False)
    assert again.returncode == 2 and "No experiment 'cli-gone' to delete" in again.stderr
    assert "Traceback" not in again.stderr
