"""Stored runs and a ready Compare tab for the Compare tab tests."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.compare.runs_table import Col
from app.compare.tab import CompareTab
from core.runs.store import Run, RunStore

REPO = Path(__file__).resolve().parents[2]


def make_run(store: RunStore, name: str, model: str, params: int, rf: int,
             accs: list[float], *, status: str = "completed", planned: int | None = None,
             device: str = "NVIDIA H100 80GB HBM3 (cuda:0)", seconds: float = 4.2,
             pid: int = 0, host: str = "", my_digits: float | None = None) -> Run:
    """A stored run with a plausible history, written through the real store (no training)."""
    epochs = len(accs)
    run = store.create({"model": model, "epochs": planned or epochs, "batch_size": 128},
                       params=params, receptive_field=rf, env={"device": device}, name=name)
    for e, acc in enumerate(accs, start=1):
        # Losses fall roughly as the error rate does; train loss sits above test loss (augmented).
        err = max(100.0 - acc, 0.05) / 100.0
        run.record.history.append({
            "epoch": e, "train_loss": 2.2 * err + 0.02 + 0.25 * math.exp(-e),
            "train_acc": acc - 0.6, "test_loss": 0.32 * err + 0.004, "test_acc": acc,
            "val_loss": None, "val_acc": None, "lr": 0.05, "seconds": seconds,
            "samples_per_s": 60000 / seconds})
    run.record.epochs_done = epochs
    run.record.status, run.record.pid, run.record.host = status, pid, host
    if my_digits is not None:
        run.record.scores["my_digits"] = {"accuracy": my_digits, "n": 40,
                                          "when": "2025-01-05T10:00:00+00:00"}
    run.save_record()
    if epochs:  # the store offers Resume only when last.pt is there; these stand in (unloadable)
        for kind in ("best", "last"):
            run.checkpoint_path(kind).write_bytes(b"stand-in checkpoint for the Compare tests")
    # A new run is locked by its creator (the store's "running" means "locked"). Only a run
    # that stands for one this very process trains keeps the lock; any other releases it, as
    # a finished or killed training does.
    if not (status == "running" and pid == os.getpid()):
        run.release_lock()
    return run


def rising(final: float, n: int, start: float = 97.6, tail: tuple[float, ...] = ()) -> list[float]:
    """n epoch accuracies rising from `start` toward `final`, optionally ending with `tail`."""
    body = [round(final - (final - start) * math.exp(-(e / 2.2)), 2) for e in range(n - len(tail))]
    return body + list(tail)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def store() -> RunStore:
    return RunStore()


@pytest.fixture
def tab(qtbot, store: RunStore) -> CompareTab:
    widget = CompareTab(store)
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    # Dialogs answer themselves: Yes to confirmations, warnings collected for the asserts.
    widget.actions._confirm = lambda title, text: True  # type: ignore[method-assign]
    widget.warnings = []  # type: ignore[attr-defined]
    widget.actions._warn = lambda title, text: widget.warnings.append(text)  # type: ignore
    return widget


def names_in_view(tab: CompareTab) -> list[str]:
    return [tab.proxy.index(r, Col.NAME).data() for r in range(tab.proxy.rowCount())]


def cell(tab: CompareTab, run_id: str, col: Col, role=Qt.ItemDataRole.DisplayRole):
    return tab.model.index(tab.model.row_of(run_id), col).data(role)


def train_tiny_run(store: RunStore, mnist_dir: Path, name: str):  # -> (Run, TrainResult)
    """A real one-epoch run of the smallest zoo model on 500 images: a second or two on a CPU."""
    from core.models import build_model
    from core.models.layers import summarize
    from core.training.config import TrainConfig
    from core.training.loop import train

    config = TrainConfig(model="dl-tiny-1k", device="cpu", epochs=1, train_subset=500,
                         test_subset=100, batch_size=50, data_dir=str(mnist_dir))
    summary = summarize(build_model(config.model))
    run = store.create(config.to_dict(), params=summary.total_params,
                       receptive_field=summary.receptive_field, name=name)
    return run, train(config, run=run)


# -- damaged run folders, as a crash, an older version or another tool may leave them ----------

_EPOCH = {"epoch": 1, "train_loss": 0.5, "train_acc": 90.0, "test_loss": 0.3, "test_acc": 95.0,
          "val_loss": None, "val_acc": None, "lr": 0.01, "seconds": 2.0, "samples_per_s": 1000.0}
GOOD_RECORD = {"name": "fine", "model": "dl-tiny-1k", "config": {"epochs": 3},
               "created": "2026-01-01T00:00:00+00:00", "status": "completed", "epochs_done": 1,
               "history": [_EPOCH]}
# kind → run.json bytes (None: the folder has no run.json); each a different class of damage.
DAMAGE: dict[str, bytes | None] = {
    "history a string": json.dumps({**GOOD_RECORD, "history": "lots"}).encode(),
    "config a list": json.dumps({**GOOD_RECORD, "config": [1, 2]}).encode(),
    "created a number": json.dumps({**GOOD_RECORD, "created": 20260101}).encode(),
    "pid text": json.dumps({**GOOD_RECORD, "pid": "1234"}).encode(),
    "epochs_done a string": json.dumps({**GOOD_RECORD, "epochs_done": "3"}).encode(),
    "status markup": json.dumps({**GOOD_RECORD, "status": "<b>x</b><img src=y>"}).encode(),
    "accuracy text": json.dumps({**GOOD_RECORD, "history": [{**_EPOCH,
                                                              "test_acc": "99"}]}).encode(),
    "a list": json.dumps([GOOD_RECORD]).encode(),
    "truncated": json.dumps(GOOD_RECORD).encode()[:40],
    "empty file": b"",
    "not UTF-8": b'{"name": "\xff\xfe"}',
    "no run.json": None,
}


def make_damaged_runs(store: RunStore) -> dict[str, str]:
    """One damaged run folder per kind in DAMAGE, older than the store's "being created" grace
    period; returns kind → folder name (the run's id)."""
    made = {}
    for i, (kind, content) in enumerate(DAMAGE.items()):
        folder = store.root / f"2025010{i % 10}-00000{i // 10}-damaged-{i:02d}"
        (folder / "checkpoints").mkdir(parents=True)
        if content is not None:
            (folder / "run.json").write_bytes(content)
        old = 1_700_000_000 + i  # 2023: sorts below the runs made now
        os.utime(folder, (old, old))
        made[kind] = folder.name
    return made
