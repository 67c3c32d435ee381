"""What a `run.json` must hold, field by field. A run folder may come from anywhere (an older
version, a colleague, a crash, a hostile archive): every field is checked for its type and range
before any part of DigitLab relies on it, and what is wrong is said in one line.

`record_fields(data)` returns the checked keyword arguments for `RunRecord`, or raises
`RecordProblem`. The record's id is never read from the file: a run is its folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from core.checks import (
    MAX_INT,
    count_problem,
    kind_of,
    number_problem,
    text_problem,
)
from core.training.config import field_type_problem
from core.training.metrics import history_problem

STATUSES = ("created", "running", "completed", "stopped", "failed", "interrupted")


class RecordProblem(ValueError):
    """One line saying which field of a run record is wrong and how."""


def _pid(value: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return f"must be a whole number, not {kind_of(value)}"
    return None if -MAX_INT <= value <= MAX_INT else "is out of range"


def _status(value: Any) -> str | None:
    if not isinstance(value, str) or value not in STATUSES:
        return f"must be one of {', '.join(STATUSES)}"
    return None


def _object(value: Any) -> str | None:
    if not isinstance(value, dict):
        return f"must be an object, not {kind_of(value)}"
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


def _scores(value: Any) -> str | None:
    problem = _object(value)
    if problem:
        return problem
    my = value.get("my_digits")
    if my is None:
        return None
    if not isinstance(my, dict):
        return f"'my_digits' must be an object, not {kind_of(my)}"
    checks: list[tuple[str, Callable[[Any], str | None]]] = [
        ("accuracy", lambda v: None if v is None else number_problem(v, 0.0, 100.0)),
        ("n", count_problem), ("when", text_problem), ("checkpoint", text_problem),
        ("per_class", _object)]
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
        if key in value and text_problem(value[key]):
            return f"'{key}' {text_problem(value[key])}"
    return None


def _best(value: Any) -> str | None:
    """{"epoch", "picked_on", "accuracy"} of the best checkpoint (core/runs/best.py), or {}."""
    problem = _object(value)
    if problem or not value:
        return problem
    if value.get("picked_on") not in ("validation", "test"):
        return "'picked_on' must be 'validation' or 'test'"
    return count_problem(value.get("epoch")) or number_problem(value.get("accuracy"), 0.0, 100.0)


FIELD_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "name": text_problem, "model": text_problem, "config": _config, "created": text_problem,
    "updated": text_problem, "status": _status, "params": count_problem,
    "receptive_field": count_problem, "epochs_done": count_problem, "history": history_problem,
    "env": _env, "error": text_problem, "pid": _pid, "host": text_problem,
    "scores": _scores, "experiment": lambda v: None if v is None else _object(v),
    "best": _best,
}
REQUIRED = ("model", "config", "created")


def record_fields(data: Any) -> dict[str, Any]:
    """The checked fields of a parsed run.json (without `id`), or RecordProblem saying why not.

    Unknown keys (a newer version's) are ignored; missing optional fields take their defaults.
    """
    if not isinstance(data, dict):
        raise RecordProblem(f"run.json holds {kind_of(data)}, not an object")
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
        keys = ("step", "epoch", "loss", "lr")
        if isinstance(entry, Mapping) and all(number_problem(entry.get(k)) is None for k in keys):
            keep.append({k: entry[k] for k in ("step", "epoch", "loss", "lr")})
    return keep
