"""Which setting mattered in a sweep: parameter importance and parallel coordinates.

Importance is Optuna's PED-ANOVA (`optuna.importance.PedAnovaImportanceEvaluator`, numpy only;
fANOVA would need scikit-learn) over the finished trials, each trial (a point and a seed) added
to an in-memory study with `optuna.trial.create_trial`: how much each setting's distribution
among the best trials differs from its distribution among all, normalised to sum to 1. Seeds
are kept as separate trials, so seed noise is part of what the evaluator sees. Optuna is the
`search` extra and is imported only here, when asked.

Parallel coordinates: one axis per setting (numbers on their own scale, log where the range
spans a decade or more; categories evenly spaced), the objective last; one line per trial.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError
from core.experiments.spec import ExperimentSpec, Range
from core.experiments.statistics import METRIC_NAMES

EVALUATOR = "PED-ANOVA, optuna.importance.PedAnovaImportanceEvaluator"
RECIPE_AXIS = "recipe"  # the variant, when the experiment has named recipes
_MIN_TOP = 5  # Optuna's advice: at least five trials above the target quantile


@dataclass(frozen=True)
class SweepTrial:
    key: str
    values: dict[str, Any]  # setting → value (the variant under RECIPE_AXIS)
    objective: float


@dataclass(frozen=True)
class Importance:
    evaluator: str
    metric: str  # what the trials were ranked on
    trials: int
    top_quantile: float  # share of trials counted as "the best"
    scores: dict[str, float]  # setting → importance, largest first, summing to 1 (or all 0)

    def lines(self) -> list[str]:
        head = (f"Importance of each setting for reaching the best {self.top_quantile:.0%} of "
                f"{self.trials} finished trials on {METRIC_NAMES[self.metric]} ({self.evaluator})")
        return [head, *(f"{name}: {score:.2f}" for name, score in self.scores.items())]


@dataclass(frozen=True)
class Axis:
    name: str
    categories: list[str] | None  # None: numeric
    low: float
    high: float
    log: bool
    tried: tuple[float, ...] = ()  # the distinct values a grid tried (labelled), else ()

    def position(self, value: Any) -> float:
        """0..1 along the axis."""
        if self.categories is not None:
            slots = max(len(self.categories) - 1, 1)
            return self.categories.index(_category(value)) / slots
        v, low, high = float(value), self.low, self.high
        if self.log:
            v, low, high = math.log10(v), math.log10(low), math.log10(high)
        return 0.5 if high == low else (v - low) / (high - low)

    def ticks(self) -> list[tuple[float, str]]:
        if self.categories is not None:
            return [(self.position(c), c) for c in self.categories]
        shown = self.tried if 0 < len(self.tried) <= 8 else (self.low, self.high)
        return [(self.position(v), f"{v:.4g}") for v in sorted(set(shown))]


@dataclass(frozen=True)
class ParallelCoordinates:
    axes: list[Axis]  # settings, then the objective
    lines: list[list[float]]  # per trial, its 0..1 position on every axis
    objective: list[float]  # per trial (what colours the line)
    keys: list[str]
    metric: str


def swept_settings(spec: ExperimentSpec) -> list[str]:
    """The settings the experiment varies: the recipe (when it has two or more) and every
    searched setting with more than one value."""
    names = [RECIPE_AXIS] if len(spec.variants) > 1 else []
    for key, values in spec.search.space.items():
        if isinstance(values, Range) or len(values) > 1:
            names.append(key)
    return names


def sweep_trials(spec: ExperimentSpec, states: list[Any], metric: str) -> list[SweepTrial]:
    """Finished trials with their swept values and final `metric`."""
    names = swept_settings(spec)
    out = []
    for state in states:
        value = state.history_value(metric)
        if not state.finished or value is None or not math.isfinite(value):
            continue
        point = state.trial.point
        values = {n: (point.variant if n == RECIPE_AXIS else point.values.get(n)) for n in names}
        if any(v is None for v in values.values()):
            continue
        out.append(SweepTrial(state.trial.key, values, value))
    return out


def importance(spec: ExperimentSpec, trials: list[SweepTrial], metric: str) -> Importance:
    """PED-ANOVA importances over `trials`; ConfigError when fewer than two settings vary or
    fewer than two trials finished, and when Optuna is missing (naming the extra)."""
    names = swept_settings(spec)
    if len(names) < 2:
        raise ConfigError("Importance compares two or more swept settings; this experiment "
                          f"varies {len(names)}.")
    if len(trials) < 2:
        raise ConfigError("Importance needs at least two finished trials.")
    try:
        import optuna
        from optuna.distributions import CategoricalDistribution, FloatDistribution
    except ImportError:
        raise ConfigError("Setting importance uses Optuna: pip install 'digitlab[search]'.") \
            from None
    distributions: dict[str, Any] = {}
    for name in names:
        space = spec.search.space.get(name)
        if isinstance(space, Range):
            distributions[name] = FloatDistribution(space.low, space.high, log=space.log)
        else:  # grid values, choices and recipes: the values tried, as categories
            distributions[name] = CategoricalDistribution(
                sorted({_category(t.values[name]) for t in trials}, key=_sort_key))
    minimize = metric.endswith("loss")
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" line
    try:
        study = optuna.create_study(direction="minimize" if minimize else "maximize")
    finally:
        optuna.logging.set_verbosity(verbosity)
    for t in trials:
        params = {n: (t.values[n] if isinstance(distributions[n], FloatDistribution)
                      else _category(t.values[n])) for n in names}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions,
                                                  value=t.objective))
    quantile = min(0.5, max(0.1, _MIN_TOP / len(trials)))
    evaluator = optuna.importance.PedAnovaImportanceEvaluator(target_quantile=quantile)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its small-sample warnings: the quantile is stated
        scores = optuna.importance.get_param_importances(study, evaluator=evaluator)
    return Importance(EVALUATOR, metric, len(trials), quantile,
                      {k: float(v) for k, v in scores.items()})


def parallel_coordinates(spec: ExperimentSpec, trials: list[SweepTrial],
                         metric: str) -> ParallelCoordinates:
    names = swept_settings(spec)
    axes = []
    for name in names:
        values = [t.values[name] for t in trials]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if numeric and values:
            low, high = float(min(values)), float(max(values))
            space = spec.search.space.get(name)
            log = (space.log if isinstance(space, Range)
                   else low > 0 and high / low >= 10.0)
            tried = tuple(sorted({float(v) for v in values})) if not isinstance(
                space, Range) else ()
            axes.append(Axis(name, None, low, high, log, tried))
        else:
            axes.append(Axis(name, sorted({_category(v) for v in values}, key=_sort_key),
                             0.0, 1.0, False))
    objective = [t.objective for t in trials]
    low, high = (min(objective), max(objective)) if objective else (0.0, 1.0)
    axes.append(Axis(metric, None, low, high, False))
    lines = [[axis.position(t.values[axis.name] if axis.name != metric else t.objective)
              for axis in axes] for t in trials]
    return ParallelCoordinates(axes, lines, objective, [t.key for t in trials], metric)


def _category(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _sort_key(text: str) -> tuple[int, float, str]:
    try:
        return 0, float(text), text
    except ValueError:
        return 1, 0.0, text
