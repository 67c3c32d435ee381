"""A full disk (a real tmpfs when it can be mounted, else ENOSPC simulated at fsync): every
write fails with one StorageError naming the folder, and the files already there stay whole."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from core.data.my_digits import MyDigits
from core.errors import DigitLabError, StorageError
from core.fileio import write_bytes_atomic, write_json_atomic
from core.runs.store import RunStore
from tests.support.full_disk import full_disk


def no_temporary_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*.tmp")]


def test_atomic_writes_on_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    disk = tmp_path / "disk"
    with full_disk(disk, monkeypatch) as (_, fill):
        write_json_atomic(disk / "a.json", {"kept": True})
        write_bytes_atomic(disk / "sub" / "b.bin", b"x" * 100)
        fill()
        for write in (lambda: write_json_atomic(disk / "a.json", {"pad": "y" * 9000}),
                      lambda: write_bytes_atomic(disk / "sub" / "b.bin", b"z" * 50_000),
                      lambda: write_bytes_atomic(disk / "new.bin", b"z" * 50_000)):
            with pytest.raises(StorageError) as info:
                write()
            message = str(info.value)
            assert "full" in message and str(disk) in message and "\n" not in message
            assert isinstance(info.value, OSError | DigitLabError)
        assert json.loads((disk / "a.json").read_text()) == {"kept": True}
        assert (disk / "sub" / "b.bin").read_bytes() == b"x" * 100
        assert not (disk / "new.bin").exists() and no_temporary_files(disk)


def test_run_store_and_checkpoints_on_a_full_disk(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from core.training.checkpoints import save_checkpoint

    disk = tmp_path / "disk"
    with full_disk(disk, monkeypatch) as (_, fill):
        store = RunStore(disk / "runs")
        run = store.create({"model": "dl-tiny-1k", "epochs": 3}, name="before")
        save_checkpoint(run.checkpoint_path("last"), {"weights": np.arange(10)})
        run.mark("stopped")
        last = run.checkpoint_path("last").read_bytes()
        record = (run.dir / "run.json").read_text()
        fill()
        with pytest.raises(StorageError, match="full"):
            save_checkpoint(run.checkpoint_path("last"), {"weights": np.zeros(20_000)})
        with pytest.raises(StorageError, match=str(run.dir)):
            run.mark("failed", "x" * 5000)
        with pytest.raises(StorageError, match="full"):
            store.create({"model": "dl-tiny-1k", "epochs": 3}, name="after")
        assert run.checkpoint_path("last").read_bytes() == last
        assert (run.dir / "run.json").read_text() == record
        assert [r.name for r in store.list()] == ["before"] and not store.damaged()
        assert no_temporary_files(disk)


def test_my_digits_on_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    disk = tmp_path / "disk"
    rng = np.random.default_rng(0)
    with full_disk(disk, monkeypatch) as (_, fill):
        digits = MyDigits(disk / "my_digits")
        digits.add(rng.random((28, 28)), 3)
        fill()
        with pytest.raises(StorageError, match="full"):
            digits.add(rng.random((28, 28)) * 0.5, 4)
        assert digits.count() == 1 and no_temporary_files(disk)


def test_output_path_that_is_a_folder_is_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="is a folder"):
        write_bytes_atomic(tmp_path, b"x")
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError, match="is a file, not a folder"):
        write_bytes_atomic(tmp_path / "file" / "out.md", b"x")
    assert os.listdir(tmp_path) == ["file"]
