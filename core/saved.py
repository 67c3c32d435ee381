"""Reading dataclasses back from saved JSON, across DigitLab versions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def from_saved(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build dataclass `cls` from saved data, ignoring keys a newer version may have added."""
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in known})
