"""Run folders travel between machines as bytes: what arrives is checked, and never decides a
path; a run that arrives again (a later epoch) replaces itself, never another run."""

from __future__ import annotations

import json

import pytest

from core.errors import ConfigError
from core.experiments.trial import pack_run, unpack_run
from core.runs.store import RunStore


def made_run(store: RunStore, trial: str = "p000-s0"):  # type: ignore[no-untyped-def]
    run = store.create({"model": "dl-tiny-1k", "epochs": 3},
                       experiment={"name": "e", "trial": trial})
    (run.dir / "checkpoints" / "last.pt").write_bytes(b"weights-1")
    run.mark("stopped")
    return run


def test_a_packed_run_unpacks_into_another_store(tmp_path) -> None:
    worker, home = RunStore(tmp_path / "worker"), RunStore(tmp_path / "home")
    run = made_run(worker)
    files = pack_run(run.dir)
    assert set(files) == {"run.json", "checkpoints/last.pt"}
    run_id = unpack_run(files, home)
    assert run_id == run.id
    copy = home.get(run_id)
    assert copy.record.experiment == {"name": "e", "trial": "p000-s0"}
    assert copy.checkpoint_path("last").read_bytes() == b"weights-1"
    # The next epoch of the same run replaces it in place.
    (run.dir / "checkpoints" / "last.pt").write_bytes(b"weights-2")
    assert unpack_run(pack_run(run.dir), home) == run_id
    assert home.get(run_id).checkpoint_path("last").read_bytes() == b"weights-2"
    assert len(home.list()) == 1


def test_a_different_run_with_the_same_id_gets_a_free_one(tmp_path) -> None:
    worker, home = RunStore(tmp_path / "worker"), RunStore(tmp_path / "home")
    run = made_run(worker, trial="p000-s0")
    other = home.root / run.id
    other.mkdir(parents=True)
    (other / "run.json").write_text(json.dumps({"model": "x", "config": {}, "created": "now"}))
    run_id = unpack_run(pack_run(run.dir), home)
    assert run_id != run.id and run_id.startswith(run.id)
    assert json.loads((other / "run.json").read_text())["model"] == "x"  # untouched


@pytest.mark.parametrize("files", [
    {"run.json": b"{}", "../../evil.py": b"x"},
    {"run.json": b"{}", "checkpoints/../../x.pt": b"x"},
    {"checkpoints/last.pt": b"x"},
    {"run.json": b"not json"},
    {"run.json": json.dumps({"id": "../outside"}).encode()},
])
def test_shipped_files_cannot_choose_paths(tmp_path, files) -> None:  # type: ignore[no-untyped-def]
    home = RunStore(tmp_path / "home")
    with pytest.raises(ConfigError):
        unpack_run(files, home)
    assert not (tmp_path / "outside").exists() and not (tmp_path / "evil.py").exists()
