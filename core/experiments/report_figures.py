"""The report's figures and sweep insight, gathered for `experiment report --plots DIR` and the
Experiments window's Markdown export: which PNGs to write where (the caller's folder and file
stem, never a name read from a file) and the importance lines.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.experiments.curves import experiment_curves
from core.experiments.spec import ExperimentSpec
from core.experiments.statistics import decision_metric, group_stats


def sweep_insight(spec: ExperimentSpec, states: list[Any]) -> list[str]:
    """Importance lines (heading first) for a sweep of two or more settings; [] for fewer.
    Without Optuna or enough finished trials, the heading says why instead."""
    from core.experiments.insight import importance, sweep_trials, swept_settings

    if len(swept_settings(spec)) < 2:
        return []
    metric = decision_metric(group_stats(spec, states), spec.objective)
    try:
        return importance(spec, sweep_trials(spec, states, metric), metric).lines()
    except ConfigError as why:
        return [f"Setting importance: not computed ({why})"]


def write_figures(spec: ExperimentSpec, states: list[Any], folder: Path,
                  stem: str) -> dict[str, Path]:
    """Write `<stem>-curves.png` (and `<stem>-sweep.png` for a sweep of two or more settings)
    into `folder`; returns kind → path. ConfigError when nothing can be drawn yet."""
    from core.experiments import figures
    from core.experiments.insight import (
        importance,
        parallel_coordinates,
        sweep_trials,
        swept_settings,
    )

    folder.mkdir(parents=True, exist_ok=True)
    written = {"curves": figures.curves_figure(
        experiment_curves(states), folder / f"{stem}-curves.png",
        f"{spec.name}: mean over seeds, band ±1 std")}
    if len(swept_settings(spec)) >= 2:
        metric = decision_metric(group_stats(spec, states), spec.objective)
        trials = sweep_trials(spec, states, metric)
        if trials:
            try:
                ranking = importance(spec, trials, metric)
            except ConfigError:
                ranking = None  # Optuna missing or too few trials: the lines say so
            written["sweep"] = figures.sweep_figure(
                parallel_coordinates(spec, trials, metric), ranking,
                folder / f"{stem}-sweep.png")
    return written


def links(written: dict[str, Path], report: Path | None) -> dict[str, str]:
    """Markdown links to the figures: relative to the report file's folder when there is one."""
    out = {}
    for kind, path in written.items():
        if report is not None:
            try:
                out[kind] = Path(os.path.relpath(path, report.resolve().parent)).as_posix()
                continue
            except ValueError:  # another drive (Windows): fall back to the full path
                pass
        out[kind] = path.as_posix()
    return out


def write_report(spec: ExperimentSpec, states: list[Any], sessions: list[dict[str, Any]],
                 path: Path) -> dict[str, Path]:
    """The Markdown report at `path` with its figures beside it (`<stem>-curves.png`, ...);
    without matplotlib or a finished epoch, the text alone. Returns the figures written."""
    from core.experiments.statistics import markdown_report
    from core.fileio import write_bytes_atomic

    try:
        written = write_figures(spec, states, path.parent, path.stem)
    except ConfigError:  # no matplotlib, or nothing to draw yet: the report still helps
        written = {}
    text = markdown_report(spec, states, sessions, links(written, path),
                           sweep_insight(spec, states))
    write_bytes_atomic(path, text.encode("utf-8"))
    return written
