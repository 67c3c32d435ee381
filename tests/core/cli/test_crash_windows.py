"""Crash windows (issue 23.7): a process killed during a run's first record write leaves a
folder that `runs` lists as damaged and `delete` removes at once; a resume sweeps the temporary
files of writes killed midway."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from core.runs.store import RunStore
from tests.conftest import REPO
from tests.core.cli.test_cli import cli

# Creates a run whose first record write stalls in fsync (the .tmp file exists, run.json not).
_STALLED_CREATE = """
import os, sys, time
import core.fileio as fileio
real = fileio.os.fsync
def stall(fd):
    print("writing", flush=True)
    time.sleep(600)
fileio.os.fsync = stall
from core.runs.store import RunStore
RunStore().create({"model": "dl-tiny-1k", "epochs": 1})
"""


def test_a_kill_during_the_first_record_write_leaves_a_listed_deletable_run(
        digitlab_home: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _STALLED_CREATE], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, env={**os.environ})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    folders = list((digitlab_home / "runs").iterdir())
    assert len(folders) == 1 and not (folders[0] / "run.json").exists()
    assert any(p.name.endswith(".tmp") for p in folders[0].iterdir())
    run_id = folders[0].name
    # At once, not after a grace period: the lock nobody holds says its creator is gone.
    listing = cli("runs").stdout
    assert f"damaged run {run_id}: incomplete: it has no run.json" in listing
    assert f"Deleted run {run_id}" in cli("delete", run_id).stdout
    assert list((digitlab_home / "runs").iterdir()) == []


def test_a_run_being_created_is_not_listed(digitlab_home: Path) -> None:
    store = RunStore()
    run = store.create({"model": "dl-tiny-1k", "epochs": 1})
    try:
        (run.dir / "run.json").unlink()  # as if its first record were still being written
        assert store.list_runs() == []  # its lock is held: not damaged, being created
    finally:
        run.release_lock()
    assert [r.id for r in store.damaged()] == [run.id]


def test_resuming_sweeps_the_temporary_files_of_killed_writes(digitlab_home: Path) -> None:
    store = RunStore()
    run = store.create({"model": "dl-tiny-1k", "epochs": 2})
    run.mark("interrupted")
    left = [run.dir / ".run.json.abc123.tmp", run.dir / ".steps.json.def456.tmp",
            run.dir / "checkpoints" / ".last.pt.789xyz.tmp"]
    for path in left:
        path.write_bytes(b"half a write")
    mine = run.dir / "notes.tmp"  # not a name DigitLab writes: left alone
    mine.write_text("the user's")
    resumed = store.open_for_resume(run.id)
    try:
        assert [p for p in left if p.exists()] == [] and mine.exists()
    finally:
        resumed.release_lock()
