"""Reproduction records: written the moment a trial finishes, read back checked, committed one
file at a time, and a resumed run trains only the trials without one."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from core.experiments import reproduction_records
from core.experiments.local import LocalExecutor
from core.experiments.reproduction import run_reproduction, writeup_models
from core.experiments.reproduction_records import (
    commit_records,
    read_records,
    record_name,
)
from core.experiments.trial import TrialOutcome
from core.runs.store import RunStore
from tests.core.experiments.helpers import Recorder
from tests.core.experiments.test_reproduction import write_trial_record

TINY = {"train_subset": 300, "test_subset": 200, "epochs": 1, "batch_size": 50,
        "compile": False}


class FakeExecutor:
    """Runs nothing: remembers which trials it was given."""

    name, slots = "fake", 1

    def __init__(self) -> None:
        self.keys: list[str] = []

    def run(self, tasks, reporter, control) -> list[TrialOutcome]:
        self.keys += [t.key for t in tasks]
        return []


@pytest.mark.slow
def test_each_trial_is_recorded_as_it_finishes_and_a_resume_skips_it(tmp_path,
                                                                      mnist_dir) -> None:
    folder, runs = tmp_path / "repo" / "docs" / "reproduction", RunStore(tmp_path / "runs")
    models = ["pg-model3a-dws", "pg-model1"]
    seen_before_second: list[list[str]] = []

    class Checking(Recorder):
        def trial_started(self, key, info) -> None:
            seen_before_second.append(sorted(p.name for p in folder.glob("*.json")))
            super().trial_started(key, info)

    outcome = run_reproduction(LocalExecutor(runs, threads=1), folder, runs=runs, base=TINY,
                               models=models, seeds=[0], reporter=Checking(),
                               data_dir=str(mnist_dir))
    tag = "batch_size50-compileFalse-epochs1-test_subset200-train_subset300"
    names = [record_name(m, 0, tag) for m in models]
    assert seen_before_second == [[], names[:1]]  # the first trial's record before the second
    assert outcome.trials_run == 2 and outcome.left == [] and outcome.failed == []
    data = json.loads((folder / names[0]).read_text())
    assert data["model"] == "pg-model3a-dws" and data["status"] == "completed"
    assert data["config"]["train_subset"] == 300 and "data_dir" not in data["config"]
    assert len(data["history"]) == 1 and data["final"]["test_acc"] == \
        data["history"][-1]["test_acc"] == data["best"]["test_acc"]
    assert data["params"] == 4522 and data["seconds"] > 0 and data["started"] <= data["ended"]
    assert data["machine"]["cores"] and data["machine"]["threads"] == 1
    if (Path(__file__).resolve().parents[3] / ".git").exists():  # a git checkout
        assert len(data["commit"].split()[0]) == 40  # its commit
    text = (folder / names[0]).read_text()
    assert str(tmp_path) not in text and str(mnist_dir) not in text  # no machine paths
    records = read_records(folder, writeup_models())
    assert records.damaged == {} and [r.model for r in records.trials] == sorted(models)

    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    fake = FakeExecutor()
    again = run_reproduction(fake, folder, runs=RunStore(tmp_path / "other-machine"),
                             base=TINY, models=models, seeds=[0])
    assert fake.keys == [] and again.trials_run == 0 and again.left == []
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before


def test_with_several_trials_at_once_each_record_is_written_as_its_trial_ends(tmp_path) -> None:
    folder, runs = tmp_path / "records", RunStore(tmp_path / "runs")
    on_disk: list[list[str]] = []

    class TwoAtOnce(FakeExecutor):
        slots = 2

        def run(self, tasks, reporter, control) -> list[TrialOutcome]:
            outcomes = []
            for task in tasks:  # both trials were handed over together; they end one by one
                on_disk.append(sorted(p.name for p in folder.glob("*.json")))
                run = runs.create(task.config, params=4522, experiment=task.tag())
                run.record.history.append({
                    "epoch": 1, "train_loss": 0.3, "train_acc": 90.0, "test_loss": 0.2,
                    "test_acc": 95.0, "val_loss": None, "val_acc": None, "lr": 0.01,
                    "seconds": 1.0, "samples_per_s": 100.0})
                run.record.epochs_done = 1
                run.mark("completed")
                outcomes.append(TrialOutcome(task.key, run.id, "completed", "", 1,
                                             run.record.history))
                reporter.trial_finished(outcomes[-1])
            return outcomes

    outcome = run_reproduction(TwoAtOnce(), folder, runs=runs, seeds=[0],
                               models=["pg-model3a-dws", "pg-model1"])
    assert on_disk == [[], ["pg-model3a-dws-seed0.json"]]
    assert outcome.left == [] and len(outcome.written) == 2


def test_a_resume_on_another_machine_runs_only_the_missing_trials(tmp_path) -> None:
    folder = tmp_path / "records"
    write_trial_record(folder, RunStore(tmp_path / "machine-a"), "pg-model3a-dws", 0, [98.0])
    fake = FakeExecutor()
    outcome = run_reproduction(fake, folder, runs=RunStore(tmp_path / "machine-b"),
                               models=["pg-model3a-dws", "pg-model1", "eva5-s4"])
    assert fake.keys == ["pg-model1-s0", "eva5-s4-s0"]  # each given once, cheapest first
    assert outcome.left == ["pg-model1-s0", "eva5-s4-s0"]


def test_a_run_finished_in_the_store_but_never_recorded_is_recorded_without_training(
        tmp_path) -> None:
    runs, scratch = RunStore(tmp_path / "runs"), tmp_path / "scratch"
    write_trial_record(scratch, runs, "pg-model1", 0, [97.0, 98.1])  # the run, in this store
    folder = tmp_path / "records"
    fake = FakeExecutor()
    outcome = run_reproduction(fake, folder, runs=runs, models=["pg-model1"])
    assert fake.keys == [] and [p.name for p in outcome.written] == ["pg-model1-seed0.json"]
    assert read_records(folder, writeup_models()).get("pg-model1", 0).final_acc == 98.1


def test_damaged_records_are_named_and_never_used(tmp_path) -> None:
    folder, runs = tmp_path / "records", RunStore(tmp_path / "runs")
    good = write_trial_record(folder, runs, "eva5-s4", 0, [99.1])
    data = json.loads(good.read_text())
    (folder / "eva5-s4-seed1.json").write_text(json.dumps(data))  # says seed 0 inside
    (folder / "pg-model1-seed0.json").write_text("{not json")
    (folder / "pg-model2-seed0.json").write_text(json.dumps(
        {**data, "model": "pg-model2", "history": [{"epoch": 1, "test_acc": 250.0}]}))
    (folder / "rm-rf-seed0.json").write_text(json.dumps({**data, "model": "../../etc"}))
    (folder / "notes.txt").write_text("ignored")
    records = read_records(folder, writeup_models())
    assert [r.file for r in records.trials] == ["eva5-s4-seed0.json"]
    assert "not what its name says" in records.damaged["eva5-s4-seed1.json"]
    assert "unreadable" in records.damaged["pg-model1-seed0.json"]
    assert "history" in records.damaged["pg-model2-seed0.json"]
    assert "not a write-up model" in records.damaged["rm-rf-seed0.json"]


def test_commit_records_commits_that_file_only(tmp_path, monkeypatch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], check=True, text=True,
                              capture_output=True).stdout

    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    (repo / "other.py").write_text("someone else's work\n")
    git("add", "other.py")  # staged by another developer, not ours to commit
    record = repo / "docs" / "reproduction" / "eva5-s4-seed0.json"
    record.parent.mkdir(parents=True)
    record.write_text("{}\n")
    monkeypatch.setattr(reproduction_records, "_REPO", repo)
    assert commit_records([record], "Reproduction record: eva5-s4 seed 0") == ""
    assert git("show", "--name-only", "--format=%s", "HEAD").split() == [
        "Reproduction", "record:", "eva5-s4", "seed", "0", "docs/reproduction/eva5-s4-seed0.json"]
    assert git("diff", "--cached", "--name-only").split() == ["other.py"]  # still staged
    outside = tmp_path / "elsewhere.json"
    outside.write_text("{}")
    assert commit_records([outside], "x")  # outside the repository: says why, raises nothing
