"""An experiment's trials as tables for pandas: CSV (one row per trial and epoch) or JSON.

    pd.read_csv("tiny.csv")                     # columns: trial, recipe, seed, status, epoch,
                                                # test_acc, ..., config.lr, config.augment, ...
    pd.json_normalize(json.load(open("tiny.json"))["trials"])

CSV is long ("tidy"): one row per epoch of every trial, each carrying the trial's identity and
full training config, so `df.groupby(["recipe", "epoch"]).test_acc.agg(["mean", "std"])` works
at once. A trial without an epoch (pending, failed at start) still gets one row, epoch empty.
JSON keeps the nesting: per trial its config, seed, status and the per-epoch history.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.experiments.spec import ExperimentSpec

EXPORT_FORMATS = (".csv", ".json")
EPOCH_COLUMNS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "val_loss",
                 "val_acc", "lr", "seconds", "samples_per_s")
TRIAL_COLUMNS = ("experiment", "trial", "point", "recipe", "variant", "seed", "status", "run_id")


def export_format(path: Path) -> str:
    """".csv" or ".json" from the file name the user gave; ConfigError otherwise."""
    suffix = path.suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise ConfigError(f"Cannot tell the format of {path.name}: name the file .csv or .json.")
    return suffix


def trial_records(spec: ExperimentSpec, states: list[Any]) -> list[dict[str, Any]]:
    """Per trial: identity, searched values, full config and history (JSON-ready)."""
    out = []
    for state in states:
        run, trial = state.run, state.trial
        out.append({
            "experiment": spec.name, "trial": trial.key, "point": trial.point.index,
            "recipe": trial.point.label, "variant": trial.point.variant,
            "values": dict(trial.point.values), "seed": trial.seed, "status": state.status,
            "run_id": run.id if run is not None else "",
            "config": dict(run.config) if run is not None else spec.overrides(trial.point,
                                                                             trial.seed),
            "history": [{k: _plain(entry.get(k)) for k in EPOCH_COLUMNS}
                        for entry in (run.history if run is not None else [])],
            "error": run.error if run is not None else ""})
    return out


def trials_json(spec: ExperimentSpec, states: list[Any]) -> str:
    data = {"experiment": spec.name, "objective": spec.objective, "seeds": list(spec.seeds),
            "definition": spec.to_dict(), "trials": trial_records(spec, states)}
    return json.dumps(_plain(data), indent=1, allow_nan=False) + "\n"


def trials_csv(spec: ExperimentSpec, states: list[Any]) -> str:
    records = trial_records(spec, states)
    config_keys = sorted({k for r in records for k in r["config"]})
    header = [*TRIAL_COLUMNS, *EPOCH_COLUMNS, *(f"config.{k}" for k in config_keys), "error"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for r in records:
        identity = [r[k] for k in TRIAL_COLUMNS]
        config = [_cell(r["config"].get(k)) for k in config_keys]
        for entry in r["history"] or [dict.fromkeys(EPOCH_COLUMNS)]:
            writer.writerow([*identity, *(_cell(entry.get(k)) for k in EPOCH_COLUMNS), *config,
                             r["error"]])
    return buffer.getvalue()


def export_trials(spec: ExperimentSpec, states: list[Any], path: Path) -> int:
    """Write the trials to `path` (.csv or .json, from its name); returns the rows / trials."""
    from core.fileio import write_bytes_atomic

    fmt = export_format(path)
    text = trials_csv(spec, states) if fmt == ".csv" else trials_json(spec, states)
    write_bytes_atomic(path, text.encode("utf-8"))
    return text.count("\n") - 1 if fmt == ".csv" else len(states)


def _cell(value: Any) -> Any:
    """A CSV cell: empty for missing or non-finite numbers, JSON for lists and dicts."""
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)
