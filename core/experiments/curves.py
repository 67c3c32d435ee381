"""Curves as mean ± std bands over seeds: per recipe, for every epoch all its seeds reached.

Plain data in (run records, or an experiment's trial states), plain data out; the Experiments
window, the Compare tab and the report's PNG all draw what `recipe_bands` returns. A recipe is
an experiment's point (its trials share everything but the seed) or, for runs outside an
experiment, the training config without the seed (and without where the data was read from).
The std is over seeds with n − 1, as in statistics.py; one seed gives a band of zero width
(std None) so the mean line is still drawn.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.runs.record import RunRecord

# Per-epoch figures a band can be drawn for (keys of a run's history entries).
CURVE_METRICS = ("test_acc", "val_acc", "train_loss", "test_loss", "val_loss")
# Config keys that do not make another recipe: the seed varies by design, the rest say where
# or how often, not what was trained.
_NOT_RECIPE = frozenset({"seed", "data_dir", "log_every"})


@dataclass(frozen=True)
class Band:
    """One metric of one recipe: per epoch the mean and std over its seeds."""

    metric: str
    epochs: list[int]
    mean: list[float]
    std: list[float | None]  # None where one seed only (no spread to estimate)
    n: int  # seeds in the band (every one reached every epoch listed)

    def lower(self) -> list[float]:
        return [m - (s or 0.0) for m, s in zip(self.mean, self.std, strict=True)]

    def upper(self) -> list[float]:
        return [m + (s or 0.0) for m, s in zip(self.mean, self.std, strict=True)]


@dataclass(frozen=True)
class RecipeCurves:
    """A recipe's runs (one per seed) and its bands, by metric."""

    key: str  # stable identity of the recipe (for colours)
    label: str
    run_ids: list[str]
    seeds: list[int]
    bands: dict[str, Band]  # metric → band; a metric no run recorded is absent

    @property
    def n(self) -> int:
        return len(self.run_ids)


def band(histories: list[list[dict[str, Any]]], metric: str) -> Band | None:
    """Mean ± std over the histories of `metric`, for the epochs every history recorded it in.
    None when no epoch is shared by all (or there is no history)."""
    if not histories:
        return None
    per_run = []
    for history in histories:
        values = {}
        for entry in history:
            value, epoch = entry.get(metric), entry.get("epoch")
            if isinstance(epoch, int) and _finite(value):
                values[epoch] = float(value)  # type: ignore[arg-type]
        per_run.append(values)
    shared = sorted(set.intersection(*(set(v) for v in per_run)))
    if not shared:
        return None
    means, stds = [], []
    for epoch in shared:
        column = [values[epoch] for values in per_run]
        mean = sum(column) / len(column)
        means.append(mean)
        stds.append(math.sqrt(sum((v - mean) ** 2 for v in column) / (len(column) - 1))
                    if len(column) > 1 else None)
    return Band(metric, shared, means, stds, len(histories))


def recipe_key(record: RunRecord) -> tuple[str, str]:
    """(key, label) of the recipe a run follows: its experiment point, else its config without
    the seed."""
    tag = record.experiment
    if isinstance(tag, dict) and "name" in tag and "point" in tag:
        label = str(tag.get("label") or f"point {tag['point']}")
        return f"experiment:{tag['name']}:{tag['point']}", label
    recipe = {k: v for k, v in record.config.items() if k not in _NOT_RECIPE}
    key = "config:" + json.dumps(recipe, sort_keys=True, default=str)
    return key, str(record.model or record.config.get("model", "?"))


def recipe_curves(records: Iterable[RunRecord],
                  metrics: tuple[str, ...] = CURVE_METRICS) -> list[RecipeCurves]:
    """Runs grouped by recipe (first appearance order), with a band per metric. Runs without
    any epoch are left out. Labels of config recipes that share a model name say what differs."""
    groups: dict[str, list[RunRecord]] = {}
    labels: dict[str, str] = {}
    for record in records:
        if not record.history:
            continue
        key, label = recipe_key(record)
        groups.setdefault(key, []).append(record)
        labels.setdefault(key, label)
    _disambiguate(groups, labels)
    return [_curves(key, labels[key], members, [_seed(r) for r in members], metrics)
            for key, members in groups.items()]


def experiment_curves(states: Iterable[Any],
                      metrics: tuple[str, ...] = CURVE_METRICS) -> list[RecipeCurves]:
    """Bands per point of an experiment (core.experiments.storage.TrialState, in order): every
    trial whose run has an epoch, except failed ones (a crash is not a seed's result)."""
    groups: dict[int, list[Any]] = {}
    for state in states:
        if state.run is not None and state.run.history and state.status != "failed":
            groups.setdefault(state.trial.point.index, []).append(state)
    return [_curves(f"point:{index}", members[0].trial.point.label,
                    [s.run for s in members], [s.trial.seed for s in members], metrics)
            for index, members in groups.items()]


def _curves(key: str, label: str, records: list[RunRecord], seeds: list[int],
            metrics: tuple[str, ...]) -> RecipeCurves:
    histories = [r.history for r in records]
    bands = {m: b for m in metrics if (b := band(histories, m)) is not None}
    return RecipeCurves(key, label, [r.id for r in records], seeds, bands)


def groups_seeds(curves: list[RecipeCurves]) -> bool:
    """Whether any recipe holds two or more runs: only then does a band say more than a run."""
    return any(c.n > 1 for c in curves)


def _disambiguate(groups: dict[str, list[RunRecord]], labels: dict[str, str]) -> None:
    """Config recipes of one model get labels naming the settings that tell them apart."""
    by_label: dict[str, list[str]] = {}
    for key in groups:
        if key.startswith("config:"):
            by_label.setdefault(labels[key], []).append(key)
    for label, keys in by_label.items():
        if len(keys) < 2:
            continue
        configs = [groups[k][0].config for k in keys]
        differing = sorted({k for c in configs for k in c if k not in _NOT_RECIPE
                            and any(c.get(k) != o.get(k) for o in configs)})
        for key, config in zip(keys, configs, strict=True):
            shown = ", ".join(f"{k}={config.get(k)}" for k in differing[:3])
            more = "…" if len(differing) > 3 else ""
            labels[key] = f"{label} ({shown}{more})"


def _seed(record: RunRecord) -> int:
    seed = record.config.get("seed", 0)
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else 0


def _finite(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))
