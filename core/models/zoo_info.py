"""Computed facts about every zoo model (parameters, receptive field), for tables and pickers."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from core.models import build_model, get_spec, list_models
from core.models.spec import under_budget


@dataclass(frozen=True)
class ZooInfo:
    name: str
    family: str
    source: str
    description: str
    params: int
    receptive_field: int

    @property
    def under_budget(self) -> bool:
        return under_budget(self.params)


@cache
def zoo_info(name: str) -> ZooInfo:
    """Builds the model once (imports torch) and summarises it."""
    from core.models.layers import summarize

    spec = get_spec(name)
    summary = summarize(build_model(name))
    return ZooInfo(spec.name, spec.family, spec.source, spec.description, summary.total_params,
                   summary.receptive_field)


def zoo_table() -> list[ZooInfo]:
    return [zoo_info(spec.name) for spec in list_models()]
