"""What an experiment's trials say: per recipe (point) the spread over seeds, and whether one
recipe beats another beyond seed-to-seed noise. Torch-free; numbers in, numbers and text out.

- Per point: mean ± standard deviation (n − 1), min and max of the final epoch's accuracy over
  its finished seeds, and whether every seed meets the write-ups' "consistent" criterion
  (core/runs/report.py owns it: ≥ 99.4% test accuracy in each of the last three epochs).
- Two points: the difference of their means with a Welch t-interval (unequal variances, 95%),
  and a verdict in words. Where both ran the same seeds of the same model, also the paired
  difference over those seeds (paired t-test: seed-to-seed noise shared by both cancels).
  Decisions are read on the validation split when the trials hold one out; without one the
  test figures are reported, labelled as such, and nothing is chosen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from core.experiments.spec import ExperimentSpec, Point
from core.experiments.storage import TrialState
from core.runs.report import TARGET_ACCURACY, format_seconds, summarize_run
from core.text import plural

CONFIDENCE = 0.95
METRIC_NAMES = {"val_acc": "validation accuracy", "val_loss": "validation loss",
                "test_acc": "test accuracy"}


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    std: float | None  # sample standard deviation; None for a single value
    low: float
    high: float

    def text(self, digits: int = 2) -> str:
        spread = f" ± {self.std:.{digits}f}" if self.std is not None else ""
        return f"{self.mean:.{digits}f}{spread}"


def summarize(values: list[float]) -> Summary | None:
    if not values:
        return None
    n, mean = len(values), sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return Summary(n, mean, std, min(values), max(values))


# --- Student's t, for the Welch interval (no scipy in the base install) ---------------------

def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t value below which a fraction p of Student's t(df) lies (bisection on the CDF)."""
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError("p must be in (0, 1) and df > 0")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        high *= 2.0
    for _ in range(200):
        mid = (low + high) / 2.0
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2.0


@dataclass(frozen=True)
class Difference:
    """B − A of the means of `metric`, with its Welch interval."""

    a: str
    b: str
    metric: str
    diff: float
    half_width: float | None  # None: too few seeds to estimate the noise
    df: float | None
    n_a: int
    n_b: int

    @property
    def verdict(self) -> str:
        loss = self.metric.endswith("loss")
        unit, digits = ("", 4) if loss else (" points", 2)
        if self.half_width is None:
            return (f"too few seeds to tell ({self.n_a} vs {self.n_b}; two or more each are "
                    f"needed): {self.b} − {self.a} = {self.diff:+.{digits}f}{unit} on one run each")
        if abs(self.diff) <= self.half_width:
            return (f"no difference beyond noise between {self.b} and {self.a} ({self.b} − "
                    f"{self.a} = {self.diff:+.{digits}f} ± {self.half_width:.{digits}f}{unit})")
        b_better = (self.diff > 0) != loss
        winner, loser = (self.b, self.a) if b_better else (self.a, self.b)
        return (f"{winner} is better than {loser} by {abs(self.diff):.{digits}f} ± "
                f"{self.half_width:.{digits}f}{unit}")


def welch(a: list[float], b: list[float], a_label: str = "A", b_label: str = "B",
          metric: str = "test_acc", confidence: float = CONFIDENCE) -> Difference:
    sa, sb = summarize(a), summarize(b)
    if sa is None or sb is None:
        raise ValueError("both groups need at least one value")
    diff = sb.mean - sa.mean
    if sa.std is None or sb.std is None:
        return Difference(a_label, b_label, metric, diff, None, None, sa.n, sb.n)
    va, vb = sa.std ** 2 / sa.n, sb.std ** 2 / sb.n
    se = math.sqrt(va + vb)
    if se == 0.0:  # every seed gave the same figure in both: no noise to measure
        return Difference(a_label, b_label, metric, diff, 0.0, math.inf, sa.n, sb.n)
    df = (va + vb) ** 2 / (va ** 2 / (sa.n - 1) + vb ** 2 / (sb.n - 1))
    half = t_quantile(0.5 + confidence / 2.0, df) * se
    return Difference(a_label, b_label, metric, diff, half, df, sa.n, sb.n)


@dataclass(frozen=True)
class PairedDifference:
    """B − A over seeds both ran (same model): mean of the per-seed differences, its t-interval
    and the two-sided p-value of the paired t-test."""

    a: str
    b: str
    metric: str
    n: int  # seeds in common
    diff: float
    half_width: float | None  # None: fewer than two seeds in common
    p_value: float | None

    @property
    def text(self) -> str:
        loss = self.metric.endswith("loss")
        unit, digits = ("", 4) if loss else (" points", 2)
        head = (f"{self.b} − {self.a} on the same seeds, paired t-test over {self.n} seeds: "
                f"{self.diff:+.{digits}f}")
        if self.half_width is None or self.p_value is None:
            return f"{head}{unit} (one seed in common: no test)"
        beyond = "beyond noise" if abs(self.diff) > self.half_width else "not beyond noise"
        return (f"{head} ± {self.half_width:.{digits}f}{unit} ({CONFIDENCE:.0%}), "
                f"p = {self.p_value:.3g}: {beyond}")


def paired(a: dict[int, float], b: dict[int, float], a_label: str = "A", b_label: str = "B",
           metric: str = "test_acc", confidence: float = CONFIDENCE) -> PairedDifference | None:
    """Paired t-test of B − A over the seeds both hold (seed → value); None without one."""
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return None
    diffs = [b[s] - a[s] for s in seeds]
    stats = summarize(diffs)
    assert stats is not None
    if stats.std is None:
        return PairedDifference(a_label, b_label, metric, 1, stats.mean, None, None)
    n, se = stats.n, stats.std / math.sqrt(stats.n)
    if se == 0.0:  # the same difference on every seed: no noise left to test against
        p = 1.0 if stats.mean == 0.0 else 0.0
        return PairedDifference(a_label, b_label, metric, n, stats.mean, 0.0, p)
    t = stats.mean / se
    p = min(1.0, 2.0 * (1.0 - t_cdf(abs(t), n - 1)))
    half = t_quantile(0.5 + confidence / 2.0, n - 1) * se
    return PairedDifference(a_label, b_label, metric, n, stats.mean, half, p)


# --- groups of trials ------------------------------------------------------------------------

@dataclass(frozen=True)
class GroupStats:
    point: Point
    trials: int
    finished: int
    failed: int
    test: Summary | None  # final-epoch test accuracy over finished seeds, %
    val: Summary | None  # final-epoch validation accuracy, %
    objective: Summary | None  # the experiment's objective (validation), final epoch
    consistent: int  # finished seeds with ≥ 99.4% test accuracy in each of their last 3 epochs
    params: int
    seconds: float  # mean training + evaluation time of a finished trial
    values: dict[str, list[float]]  # metric → per-seed values (finished seeds), for intervals
    by_seed: dict[str, dict[int, float]]  # metric → seed → value (finished seeds), for pairing
    models: frozenset[str]  # the model(s) its finished trials trained

    @property
    def label(self) -> str:
        return self.point.label

    @property
    def all_consistent(self) -> bool:
        return self.finished == self.trials > 0 and self.consistent == self.trials


def group_stats(spec: ExperimentSpec, states: list[TrialState]) -> list[GroupStats]:
    groups: dict[int, list[TrialState]] = {}
    points: dict[int, Point] = {}
    for state in states:
        groups.setdefault(state.trial.point.index, []).append(state)
        points[state.trial.point.index] = state.trial.point
    out = []
    for index, members in groups.items():
        done = [s for s in members if s.status == "completed" and s.run is not None]
        values = {key: [v for v in (s.history_value(key) for s in done) if v is not None]
                  for key in ("test_acc", "val_acc", "val_loss")}
        by_seed = {key: {s.trial.seed: v for s in done
                         if (v := s.history_value(key)) is not None}
                   for key in ("test_acc", "val_acc", "val_loss")}
        summaries = [summarize_run(s.run) for s in done if s.run is not None]
        out.append(GroupStats(
            point=points[index], trials=len(members), finished=len(done),
            failed=sum(1 for s in members if s.status == "failed"),
            test=summarize(values["test_acc"]), val=summarize(values["val_acc"]),
            objective=summarize(values[spec.objective]),
            consistent=sum(1 for s in summaries if s.meets_accuracy),
            params=max((s.params for s in summaries), default=0),
            seconds=(sum(s.seconds for s in summaries) / len(summaries)) if summaries else 0.0,
            values=values, by_seed=by_seed,
            models=frozenset(str(s.run.config.get("model", s.run.model)) for s in done
                             if s.run is not None)))
    return out


def decision_metric(groups: list[GroupStats], objective: str) -> str:
    """The objective when every finished trial has a validation split, else test accuracy
    (reported only: nothing is chosen on it)."""
    has_val = all(g.objective is not None for g in groups if g.finished)
    return objective if has_val and any(g.finished for g in groups) else "test_acc"


def compare(a: GroupStats, b: GroupStats, metric: str) -> Difference | None:
    if not a.values[metric] or not b.values[metric]:
        return None
    return welch(a.values[metric], b.values[metric], a.label, b.label, metric)


def compare_paired(a: GroupStats, b: GroupStats, metric: str) -> PairedDifference | None:
    """The paired difference where both recipes trained the same single model on at least two
    common seeds; None otherwise (different models or seeds: nothing pairs them)."""
    if len(a.models) != 1 or a.models != b.models:
        return None
    result = paired(a.by_seed[metric], b.by_seed[metric], a.label, b.label, metric)
    return result if result is not None and result.n > 1 else None


def best_group(groups: list[GroupStats], objective: str) -> GroupStats | None:
    """The point chosen on validation (None without a validation split or finished trials)."""
    candidates = [g for g in groups if g.objective is not None]
    if not candidates:
        return None
    sign = 1.0 if objective == "val_acc" else -1.0
    return max(candidates, key=lambda g: sign * g.objective.mean)  # type: ignore[union-attr]


def sweep_points(spec: ExperimentSpec, states: list[TrialState],
                 key: str) -> list[tuple[Any, float]]:
    """(value of searched setting `key`, the trial's final decision metric) for every finished
    trial: what the Compare tab plots for a sweep."""
    groups = group_stats(spec, states)
    metric = decision_metric(groups, spec.objective)
    out = []
    for state in states:
        value = state.history_value(metric)
        if state.status == "completed" and value is not None and key in state.trial.point.values:
            out.append((state.trial.point.values[key], value))
    return out


def differences(groups: list[GroupStats], objective: str) -> list[str]:
    """What the groups say, in words: a heading, each recipe against the first (Welch, 95%),
    and the choice on validation, flagged when it is not beyond noise of another recipe.
    [] when fewer than two recipes have a finished seed."""
    done = [g for g in groups if g.finished]
    if len(done) < 2:
        return []
    metric = decision_metric(groups, objective)
    note = ("" if metric != "test_acc" else
            " (no validation split: test figures, reported only, nothing chosen on them)")
    lines = [f"Differences in final {METRIC_NAMES[metric]}{note}, each recipe against "
             f"{done[0].label} (Welch t-interval, {CONFIDENCE:.0%}; where both ran the same "
             f"seeds of one model, also the paired t-test)"]
    for g in done[1:]:
        welch_diff = compare(done[0], g, metric)
        if welch_diff is None:
            continue
        pair = compare_paired(done[0], g, metric)
        lines.append(welch_diff.verdict)
        if pair is not None:
            lines.append(pair.text)
    chosen = best_group(groups, objective) if metric != "test_acc" else None
    if chosen is not None:
        ties = [g.label for g in done if g is not chosen
                and not _beyond_noise(compare(g, chosen, objective))]
        digits = 4 if objective == "val_loss" else 2
        lines.append(f"Chosen on {METRIC_NAMES[objective]}: {chosen.label} "
                     f"({chosen.objective.text(digits)})"  # type: ignore[union-attr]
                     + (f"; not beyond noise of {', '.join(ties)}: more seeds would tell."
                        if ties else "."))
    return lines


def _beyond_noise(difference: Difference | None) -> bool:
    return (difference is not None and difference.half_width is not None
            and abs(difference.diff) > difference.half_width)


def cell(text: str, limit: int = 200) -> str:
    """Free text (labels from an experiment file) that cannot break a Markdown table row."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in str(text))
    return " ".join(cleaned.replace("|", "\\|").split())[:limit] or "–"


def markdown_report(spec: ExperimentSpec, states: list[TrialState],
                    sessions: list[dict[str, Any]] | None = None,
                    figures: dict[str, str] | None = None,
                    insight: list[str] | None = None) -> str:
    """The experiment's report: per-recipe table, differences with verdicts, the choice.
    `figures` ("curves", "sweep" → a link the caller made from the user's paths) are shown
    after the table and with the sweep's `insight` (importance lines, heading first)."""
    groups = group_stats(spec, states)
    lines = [f"# Experiment {cell(spec.name)}", ""]
    if spec.description:
        lines += [cell(spec.description), ""]
    recipe = "the write-up's recipe" if spec.writeup_recipe else "the model's DigitLab recipe"
    searched = "model" in spec.search.space or any("model" in v for v in spec.variants.values())
    model = "each recipe's model" if searched else f"model {cell(spec.model)}"
    seeds = ", ".join(map(str, spec.seeds))
    base = _settings(_data_first(spec.base))  # whole: a cut line hid train_subset and val_split
    lines.append(f"Trials: {model}, {recipe}, seeds {seeds}; base settings: "
                 f"{cell(base, limit=len(base)) if spec.base else 'none'}.")
    wall = sum(float(s.get("wall_s", 0)) for s in sessions or [])
    if sessions:
        ran = ", ".join(f"{cell(s.get('executor', '?'))} on {cell(s.get('host', '?'))}"
                        for s in sessions if s.get("trials_run"))
        lines.append(f"Wall time {format_seconds(wall)} over "
                     f"{plural(len(sessions), 'session')} ({ran}).")
    lines += ["", "| Recipe | Seeds done | Final test acc. (mean ± std) | min | max | "
              f"Final val. acc. | Consistent ≥ {TARGET_ACCURACY:g}% (last 3) | Params | "
              "Time per trial |",
              "|" + "---|" * 9]
    for g in groups:
        test = g.test
        lines.append(
            f"| {cell(recipe_text(spec, g.point))} | {g.finished}/{g.trials}"
            f"{f' ({g.failed} failed)' if g.failed else ''} | "
            f"{test.text() + '%' if test else '–'} | {f'{test.low:.2f}%' if test else '–'} | "
            f"{f'{test.high:.2f}%' if test else '–'} | {g.val.text() + '%' if g.val else '–'} | "
            f"{'✅ all' if g.all_consistent else f'{g.consistent}/{g.trials}'} | "
            f"{g.params:,} | {format_seconds(g.seconds)} |")
    lines += ["", f"Consistent: every one of a seed's last three epochs at ≥ {TARGET_ACCURACY}% "
              f"test accuracy. Std is over seeds (n − 1)."]
    figures = figures or {}
    if "curves" in figures:
        lines += ["", f"![Per recipe: mean over seeds with a ±1 std band]({figures['curves']})"]
    findings = differences(groups, spec.objective)
    if findings:
        lines += ["", f"## {findings[0]}", "", *(f"- {cell(line)}" for line in findings[1:])]
    if insight or "sweep" in figures:
        lines += ["", f"## {cell(insight[0]) if insight else 'The sweep, trial by trial'}", ""]
        lines += [f"- {cell(line)}" for line in (insight or [])[1:]]
        if "sweep" in figures:
            coloured = METRIC_NAMES[decision_metric(groups, spec.objective)]
            lines += ["", f"![Parallel coordinates: one line per trial, coloured by final "
                          f"{coloured}]({figures['sweep']})"]
    return "\n".join(lines) + "\n"


def _settings(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


_DATA_SETTINGS = ("epochs", "time_budget", "train_subset", "val_split", "test_subset")


def _data_first(values: dict[str, Any]) -> dict[str, Any]:
    """How long and on what data, first: what a reader needs to weigh the figures."""
    first = {k: values[k] for k in _DATA_SETTINGS if k in values}
    return {**first, **{k: v for k, v in values.items() if k not in first}}


def recipe_text(spec: ExperimentSpec, point: Point) -> str:
    """A point's label with what its variant changes: a variant named only "A" reads
    "A (label_smoothing=0.05, augment=1.0)"."""
    changes = spec.variants.get(point.variant) if point.variant else None
    if not changes:
        return point.label
    return f"{point.variant} ({_settings(changes)}){point.label[len(point.variant):]}"
