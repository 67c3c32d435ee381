"""What a `run.json` must hold, field by field. A run folder may come from anywhere (an older
version, a colleague, a crash, a hostile archive): every field is checked for its type and range
before any part of DigitLab relies on it, and what is wrong is said in one line.

`record_fields(data)` returns the checked keyword arguments for `RunRecord`, or raises
`RecordProblem`. The record's id is never read from the file: a run is its folder.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields
from typing import Any

from core.training.config import field_type_problem
from core.training.metrics import EpochMetrics

STATUSES = ("created", "running", "completed", "stopped", "failed", "interrupted")
MAX_TEXT = 10_000  # characters in any text field: names, dates, errors
MAX_INT = 2**63 - 1
MAX_ABS_NUMBER = 1e15  # metrics beyond this are not measurements but damage
MAX_EPOCHS_IN_HISTORY = 100_000


class RecordProblem(ValueError):
    """One line saying which field of a run record is wrong and how."""


def _show(value: Any) -> str:
    kind = {dict: "an object", list: "a list", str: "text", bool: "true/false",
            type(None): "null"}.get(type(value))
    if kind is None:
        kind = "a number"
    return kind


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be text, not {_show(value)}"
    return None if len(value) <= MAX_TEXT else f"is longer than {MAX_TEXT:,} characters"


def _count(value: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return f"must be a whole number, not {_show(value)}"
    return None if 0 <= value <= MAX_INT else f"must be between 0 and {MAX_INT}"


def _pid(value: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return f"must be a whole number, not {_show(value)}"
    return None if -MAX_INT <= value <= MAX_INT else "is out of range"


def _number(value: Any, low: float = -MAX_ABS_NUMBER, high: float = MAX_ABS_NUMBER) -> str | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return f"must be a number, not {_show(value)}"
    if not math.isfinite(value) or not low <= value <= high:
        return f"must be a number between {low:g} and {high:g}, not {value!r}"
    return None


def _status(value: Any) -> str | None:
    if not isinstance(value, str) or value not in STATUSES:
        return f"must be one of {', '.join(STATUSES)}"
    return None


def _object(value: Any) -> str | None:
    if not isinstance(value, dict):
        return f"must be an object, not {_show(value)}"
    bad = next((k for k in value if not isinstance(k, str)), None)
    return None if bad is None else "has a key that is not text"


def _config(value: Any) -> str | None:
    problem = _object(value)
    if problem:
        return problem
    for key, item in value.items():
        setting = field_type_problem(key, item)
        if setting:
            return f"setting {setting}"
    if "epochs" in value and not 0 <= value["epochs"] <= MAX_INT:
        return "setting epochs is out of range"
    return None


# Accuracies are percentages; times and rates are not negative. Other metrics: finite numbers.
_METRIC_RANGES: dict[str, tuple[float, float]] = {
    "train_acc": (0.0, 100.0), "test_acc": (0.0, 100.0), "val_acc": (0.0, 100.0),
    "seconds": (0.0, 1e9), "samples_per_s": (0.0, MAX_ABS_NUMBER),
    "train_loss": (0.0, MAX_ABS_NUMBER), "test_loss": (0.0, MAX_ABS_NUMBER),
    "val_loss": (0.0, MAX_ABS_NUMBER),
}
_NULLABLE_METRICS = {"val_loss", "val_acc"}  # None when no validation split was held out
_METRIC_NAMES = [f.name for f in fields(EpochMetrics)]
# A metric added later (with a default) may be missing from older records.
_OPTIONAL_METRICS = _NULLABLE_METRICS | {
    f.name for f in fields(EpochMetrics)
    if f.default is not MISSING or f.default_factory is not MISSING}


def _epoch_entry(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return f"must be an object, not {_show(entry)}"
    for name in _METRIC_NAMES:
        if name not in entry:
            if name in _OPTIONAL_METRICS:
                continue
            return f"lacks '{name}'"
        value = entry[name]
        if name == "epoch":
            problem = _count(value)
            if problem is None and not 1 <= value <= MAX_EPOCHS_IN_HISTORY:
                problem = f"must be between 1 and {MAX_EPOCHS_IN_HISTORY}"
        elif value is None and name in _NULLABLE_METRICS:
            problem = None
        else:
            problem = _number(value, *_METRIC_RANGES.get(name, (-MAX_ABS_NUMBER, MAX_ABS_NUMBER)))
        if problem:
            return f"'{name}' {problem}"
    return None


def history_problem(value: Any) -> str | None:
    if not isinstance(value, list):
        return f"must be a list, not {_show(value)}"
    if len(value) > MAX_EPOCHS_IN_HISTORY:
        return f"has more than {MAX_EPOCHS_IN_HISTORY:,} epochs"
    for i, entry in enumerate(value):
        problem = _epoch_entry(entry)
        if problem:
            return f"entry {i + 1} {problem}"
    return None


def _scores(value: Any) -> str | None:
    problem = _object(value)
    if problem:
        return problem
    my = value.get("my_digits")
    if my is None:
        return None
    if not isinstance(my, dict):
        return f"'my_digits' must be an object, not {_show(my)}"
    checks: list[tuple[str, Callable[[Any], str | None]]] = [
        ("accuracy", lambda v: None if v is None else _number(v, 0.0, 100.0)),
        ("n", _count), ("when", _text), ("checkpoint", _text), ("per_class", _object)]
    for key, check in checks:
        if key in my:
            problem = check(my[key])
            if problem:
                return f"'my_digits' '{key}' {problem}"
    return None


def _env(value: Any) -> str | None:
    problem = _object(value)
    if problem:
        return problem
    for key in ("device", "compile"):
        if key in value and _text(value[key]):
            return f"'{key}' {_text(value[key])}"
    return None


def _best(value: Any) -> str | None:
    """{"epoch", "picked_on", "accuracy"} of the best checkpoint (core/runs/best.py), or {}."""
    problem = _object(value)
    if problem or not value:
        return problem
    if value.get("picked_on") not in ("validation", "test"):
        return "'picked_on' must be 'validation' or 'test'"
    return _count(value.get("epoch")) or _number(value.get("accuracy"), 0.0, 100.0)


FIELD_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "name": _text, "model": _text, "config": _config, "created": _text, "updated": _text,
    "status": _status, "params": _count, "receptive_field": _count, "epochs_done": _count,
    "history": history_problem, "env": _env, "error": _text, "pid": _pid, "host": _text,
    "scores": _scores, "experiment": lambda v: None if v is None else _object(v),
    "best": _best,
}
REQUIRED = ("model", "config", "created")


def record_fields(data: Any) -> dict[str, Any]:
    """The checked fields of a parsed run.json (without `id`), or RecordProblem saying why not.

    Unknown keys (a newer version's) are ignored; missing optional fields take their defaults.
    """
    if not isinstance(data, dict):
        raise RecordProblem(f"run.json holds {_show(data)}, not an object")
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise RecordProblem(f"run.json lacks '{missing[0]}'")
    checked: dict[str, Any] = {}
    for key, check in FIELD_CHECKS.items():
        if key not in data:
            continue
        problem = check(data[key])
        if problem:
            raise RecordProblem(f"run.json field '{key}' {problem}")
        checked[key] = data[key]
    return checked


def step_entries(data: Any) -> list[dict[str, float]]:
    """The well-formed entries of a parsed steps.json (others dropped); [] when not a list."""
    if not isinstance(data, list):
        return []
    keep = []
    for entry in data:
        if (isinstance(entry, Mapping)
                and all(_number(entry.get(k)) is None for k in ("step", "epoch", "loss", "lr"))):
            keep.append({k: entry[k] for k in ("step", "epoch", "loss", "lr")})
    return keep
