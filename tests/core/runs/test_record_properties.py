"""Property tests: any JSON at all in run.json (or steps.json) gives a usable record or a
damaged entry, never an exception, and a usable record never breaks a summary or a table."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.runs.record import DamagedRun, RunRecord, read_record
from core.runs.report import markdown_table, summarize_run
from core.runs.schema import step_entries
from core.text import printable

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))
json_values = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=20)
FIELDS = ["id", "name", "model", "config", "created", "updated", "status", "params",
          "receptive_field", "epochs_done", "history", "env", "error", "pid", "host", "scores"]
metric = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 10**20),
                   st.none(), st.text(max_size=3))
epoch_entries = st.fixed_dictionaries({}, optional={
    k: metric for k in ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "val_loss",
                        "val_acc", "lr", "seconds", "samples_per_s"]})
# Records close to real ones (so many pass the checks), with any field replaced by anything.
_specific = {
    "history": st.lists(epoch_entries, max_size=3),
    "status": st.sampled_from(["running", "created", "completed", "stopped", "failed",
                               "interrupted", "odd"]),
    "epochs_done": st.integers(-3, 20), "name": st.text(max_size=10),
    "scores": st.dictionaries(st.just("my_digits"), json_values, max_size=1),
}
plausible = st.fixed_dictionaries(
    {"model": st.text(max_size=10), "config": st.dictionaries(
        st.sampled_from(["epochs", "lr", "model", "ema", "seed", "other"]), json_values,
        max_size=4), "created": st.text(max_size=25)},
    optional={k: st.one_of(_specific[k], json_values) if k in _specific else json_values
              for k in FIELDS if k not in ("model", "config", "created")})

def check_folder(folder: Path) -> None:
    entry = read_record(folder)
    assert isinstance(entry, RunRecord | DamagedRun), entry
    if isinstance(entry, DamagedRun):
        assert entry.reason and "\n" not in printable(entry.reason)
        return
    assert entry.id == folder.name  # never the file's "id"
    summary = summarize_run(entry)  # must not raise, whatever the numbers
    markdown_table([summary])
    assert entry.effective_status in ("created", "running", "completed", "stopped", "failed",
                                      "interrupted")
    _ = entry.resumable, entry.metrics, entry.epochs_planned
    assert all(math.isfinite(a) for a in summary.last3)


def write(folder: Path, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").write_text(text)
    os.utime(folder, (1_000_000_000, 1_000_000_000))


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(json_values, plausible))
def test_any_json_in_run_json(tmp_path: Path, data: object) -> None:
    write(tmp_path / "run", json.dumps(data))
    check_folder(tmp_path / "run")


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_any_text_in_run_json(tmp_path: Path, text: str) -> None:
    write(tmp_path / "run", text)
    check_folder(tmp_path / "run")


@settings(max_examples=200, deadline=None)
@given(data=json_values)
def test_any_json_in_steps_json(data: object) -> None:
    for entry in step_entries(data):
        assert set(entry) == {"step", "epoch", "loss", "lr"}
        assert all(isinstance(v, int | float) and math.isfinite(v) for v in entry.values())
