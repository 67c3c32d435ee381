"""The run store against hostile and damaged run folders: a run is its folder; a damaged record
is listed as damaged and can be deleted; nothing read from a file ever names a path."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core.errors import RunDamagedError
from core.runs.record import DamagedRun, RunRecord
from core.runs.report import markdown_table, summarize_run
from core.runs.store import RunStore

HEALTHY = {"name": "fine", "model": "dl-tiny-1k", "config": {"epochs": 3, "model": "dl-tiny-1k"},
           "created": "2026-01-01T00:00:00+00:00", "status": "completed", "epochs_done": 1,
           "history": [{"epoch": 1, "train_loss": 0.5, "train_acc": 90.0, "test_loss": 0.3,
                        "test_acc": 95.0, "val_loss": None, "val_acc": None, "lr": 0.01,
                        "seconds": 2.0, "samples_per_s": 1000.0}]}


def write_run(root: Path, folder: str, record: object, *, raw: str | None = None,
              old: bool = True) -> Path:
    """A run folder as someone else (a crash, an older version, an attacker) left it."""
    directory = root / folder
    directory.mkdir(parents=True)
    (directory / "run.json").write_text(raw if raw is not None else json.dumps(record))
    if old:  # older than the store's "being created" grace period
        os.utime(directory, (1_000_000_000, 1_000_000_000))
    return directory


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "home" / "runs")


@pytest.mark.parametrize("hostile_id", ["../../victim", "", "/tmp", "..", ".", "a/../../victim",
                                        "\x00", 12, None, ["x"]])
def test_identity_is_the_folder_never_the_id_field(store: RunStore, tmp_path: Path,
                                                   hostile_id: object) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    write_run(store.root, "run-a", {**HEALTHY, "id": hostile_id})
    keep = write_run(store.root, "run-b", {**HEALTHY, "name": "other"})
    entries = store.list_runs()
    assert sorted(e.id for e in entries) == ["run-a", "run-b"]

    store.rename("run-a", "renamed")
    assert json.loads((store.root / "run-a" / "run.json").read_text())["name"] == "renamed"
    assert not (victim / "run.json").exists() and not Path("/tmp/run.json").exists()
    run = store.get("renamed")
    assert run.dir == store.root / "run-a" and run.checkpoint_path("best").parent.parent == run.dir
    store.delete("renamed")
    assert not (store.root / "run-a").exists()
    assert (victim / "precious.txt").read_text() == "keep me"  # outside the store: untouched
    assert keep.is_dir() and store.root.is_dir()


def test_links_are_never_followed(store: RunStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "run.json").write_text(json.dumps(HEALTHY))
    store.root.mkdir(parents=True)
    (store.root / "linked").symlink_to(outside, target_is_directory=True)
    run_dir = write_run(store.root, "real", HEALTHY)
    (run_dir / "checkpoints").mkdir()
    (run_dir / "checkpoints" / "best.pt").symlink_to("/etc/passwd")

    entry = store.find("linked")
    assert isinstance(entry, DamagedRun) and "link" in entry.reason
    run = store.get("real")
    assert not run.has_checkpoint("best")
    with pytest.raises(Exception, match="not a plain file"):
        run.load_checkpoint("best")
    store.delete("linked")  # removes the link, never what it points to
    assert (outside / "run.json").is_file() and not (store.root / "linked").exists()


DAMAGED = {
    "history a string": ({**HEALTHY, "history": "lots"}, "'history'"),
    "config a list": ({**HEALTHY, "config": [1, 2]}, "'config'"),
    "created a number": ({**HEALTHY, "created": 20260101}, "'created'"),
    "pid text": ({**HEALTHY, "pid": "1234"}, "'pid'"),
    "epochs_done a string": ({**HEALTHY, "epochs_done": "3"}, "'epochs_done'"),
    "epochs_done true": ({**HEALTHY, "epochs_done": True}, "'epochs_done'"),
    "status unknown": ({**HEALTHY, "status": "exploded"}, "'status'"),
    "name a list": ({**HEALTHY, "name": ["a"]}, "'name'"),
    "config epochs text": ({**HEALTHY, "config": {"epochs": "15"}}, "epochs"),
    "config lr nan": ({**HEALTHY, "config": {"lr": float("nan")}}, "lr"),
    "history entry not an object": ({**HEALTHY, "history": [3]}, "'history'"),
    "history accuracy text": ({**HEALTHY, "history": [{**HEALTHY["history"][0],
                                                      "test_acc": "99"}]}, "test_acc"),
    "history accuracy infinite": ({**HEALTHY, "history": [{**HEALTHY["history"][0],
                                                          "seconds": float("inf")}]}, "seconds"),
    "history lacks a metric": ({**HEALTHY, "history": [{"epoch": 1}]}, "lacks"),
    "scores my_digits a number": ({**HEALTHY, "scores": {"my_digits": 5}}, "my_digits"),
    "env a list": ({**HEALTHY, "env": []}, "'env'"),
    "missing model": ({k: v for k, v in HEALTHY.items() if k != "model"}, "lacks 'model'"),
    "a list": ([HEALTHY], "a list, not an object"),
    "a number": (7, "not an object"),
    "null": (None, "not an object"),
}
RAW = {
    "truncated": (json.dumps(HEALTHY)[:40], "not valid JSON"),
    "empty file": ("", "not valid JSON"),
    "not UTF-8": ("\udcff", None),
    "deeply nested": ("[" * 50_000 + "]" * 50_000, "nested"),
    "huge integer": ('{"model": "m", "config": {}, "created": "x", "epochs_done": 1' + "0" * 5000
                     + "}", "run.json"),
}


@pytest.mark.parametrize("kind", sorted(DAMAGED) + sorted(RAW))
def test_a_damaged_run_is_listed_as_damaged_and_takes_no_other_down(store: RunStore,
                                                                    kind: str) -> None:
    healthy = write_run(store.root, "1-healthy", HEALTHY)
    if kind in DAMAGED:
        content, needle = DAMAGED[kind]
        write_run(store.root, "2-damaged", content)
    else:
        text, needle = RAW[kind]
        d = store.root / "2-damaged"
        d.mkdir(parents=True)
        if kind == "not UTF-8":
            (d / "run.json").write_bytes(b'{"name": "\xff\xfe"}')
        else:
            (d / "run.json").write_text(text)
        os.utime(d, (1_000_000_000, 1_000_000_000))
    entries = {e.id: e for e in store.list_runs()}
    damaged = entries["2-damaged"]
    assert isinstance(damaged, DamagedRun) and damaged.effective_status == "damaged"
    assert needle is None or needle in damaged.reason, damaged.reason
    assert "\n" not in damaged.reason and len(damaged.reason) < 400
    assert [r.id for r in store.list()] == ["1-healthy"]  # existing callers: healthy only
    assert markdown_table([summarize_run(r) for r in store.list()]).count("| fine |") == 1
    with pytest.raises(RunDamagedError, match="damaged"):
        store.get("2-damaged")
    store.delete("2-damaged")
    assert [e.id for e in store.list_runs()] == ["1-healthy"] and healthy.is_dir()


def test_steps_json_damage_only_loses_the_step_curve(store: RunStore) -> None:
    directory = write_run(store.root, "r", HEALTHY)
    for content in ('{"a": 1}', "[1, 2, {}]", "[{\"step\": \"x\"}]", "{{{", "null"):
        (directory / "steps.json").write_text(content)
        run = store.get("r")
        assert run.steps == [] and run.steps_problem
    (directory / "steps.json").write_text(json.dumps(
        [{"step": 1, "epoch": 0.5, "loss": 2.0, "lr": 0.1}, {"step": "bad"}]))
    run = store.get("r")
    assert run.steps == [{"step": 1, "epoch": 0.5, "loss": 2.0, "lr": 0.1}]


def test_a_folder_without_run_json_is_listed_as_incomplete_and_deletable(store: RunStore) -> None:
    """kill -9 during the first write: a folder, maybe a temporary file, no run.json."""
    directory = store.root / "20260101-000000-dl-tiny-1k"
    (directory / "checkpoints").mkdir(parents=True)
    (directory / ".run.json.abc123.tmp").write_text('{"model": "dl-ti')
    fresh = store.root / "20260101-000001-being-created"
    fresh.mkdir()  # just made by a live process: not listed as damaged yet
    os.utime(directory, (1_000_000_000, 1_000_000_000))
    entries = {e.id: e for e in store.list_runs()}
    assert "incomplete" in entries[directory.name].damaged
    assert fresh.name not in entries
    store.delete(directory.name)
    assert not directory.exists()


def test_old_temporary_files_are_swept_young_ones_kept(store: RunStore) -> None:
    directory = write_run(store.root, "r", HEALTHY)
    (directory / "checkpoints").mkdir()
    old = [directory / ".run.json.x1.tmp", directory / "checkpoints" / ".last.pt.x2.tmp",
           store.root / ".report.md.x3.tmp"]
    young = directory / ".steps.json.x4.tmp"
    mine = directory / "notes.tmp"  # not one of ours: never touched
    for path in [*old, young, mine]:
        path.write_text("partial")
    for path in [*old, mine]:
        os.utime(path, (1_000_000_000, 1_000_000_000))
    store.list_runs()
    assert not any(p.exists() for p in old)
    assert young.exists() and mine.exists()


def test_a_stale_running_record_is_interrupted_whoever_owns_its_pid(store: RunStore) -> None:
    """The pid recorded is alive (this very process, and pid 1) but nobody holds the lock."""
    import socket

    for pid in (os.getpid(), 1):
        write_run(store.root, f"stale-{pid}", {**HEALTHY, "status": "running", "pid": pid,
                                                "host": socket.gethostname(), "epochs_done": 0})
    for record in store.list():
        assert record.effective_status == "interrupted" and record.resumable
    store.delete(f"stale-{os.getpid()}")  # not "still training"
    run = store.open_for_resume("stale-1")  # resumable: from scratch, no epoch saved
    assert run.holds_lock and store.get("stale-1").record.effective_status == "running"
    run.mark("stopped")
    assert not run.holds_lock and store.get("stale-1").record.effective_status == "stopped"


def test_record_round_trip_keeps_every_field(store: RunStore) -> None:
    run = store.create({"model": "dl-tiny-1k", "epochs": 2}, params=996, name="x")
    run.mark("stopped")
    record = store.get("x").record
    assert isinstance(record, RunRecord) and record.params == 996 and record.id == run.id
    assert record.effective_status == "stopped" and record.resumable  # 0 of 2 epochs: restart
