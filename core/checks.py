"""Checks of single values read from files that may hold anything (run.json, checkpoints).

Each returns None when the value is fine, else the end of a sentence saying what is wrong
("must be a whole number, not text"), for the caller to prefix with the field's name.
"""

from __future__ import annotations

import math
from typing import Any

MAX_TEXT = 10_000  # characters in any text field: names, dates, errors
MAX_INT = 2**63 - 1
MAX_ABS_NUMBER = 1e15  # metrics beyond this are not measurements but damage



def kind_of(value: Any) -> str:
    kind = {dict: "an object", list: "a list", str: "text", bool: "true/false",
            type(None): "null"}.get(type(value))
    if kind is None:
        kind = "a number"
    return kind


def text_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be text, not {kind_of(value)}"
    return None if len(value) <= MAX_TEXT else f"is longer than {MAX_TEXT:,} characters"


def count_problem(value: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return f"must be a whole number, not {kind_of(value)}"
    return None if 0 <= value <= MAX_INT else f"must be between 0 and {MAX_INT}"


def number_problem(value: Any, low: float = -MAX_ABS_NUMBER,
                   high: float = MAX_ABS_NUMBER) -> str | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return f"must be a number, not {kind_of(value)}"
    if not math.isfinite(value) or not low <= value <= high:
        return f"must be a number between {low:g} and {high:g}, not {value!r}"
    return None
