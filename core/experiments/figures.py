"""PNG figures for the experiment report: seed bands, and a sweep's parallel coordinates with
its setting importance. Drawn with matplotlib's Agg backend (no display, no Qt), the `plots`
extra, imported only when a figure is asked for.

Paths come from the caller (the user's --plots folder or the report file they chose); the
file names are fixed here, never taken from the experiment's own files.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.experiments.curves import RecipeCurves
from core.experiments.insight import Importance, ParallelCoordinates
from core.experiments.statistics import METRIC_NAMES

CURVES_FILE = "curves.png"
SWEEP_FILE = "sweep.png"
# (metric, panel title, log y): accuracy in %, losses over decades
PANELS = (("test_acc", "Test accuracy (%)", False), ("val_acc", "Validation accuracy (%)", False),
          ("test_loss", "Test loss", True))
SHORT_NAMES = {"val_acc": "final val. acc. (%)", "val_loss": "final val. loss",
               "test_acc": "final test acc. (%)"}
DPI = 110


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("Report figures need matplotlib: pip install 'digitlab[plots]'.") \
            from None
    matplotlib.use("Agg", force=True)  # files only: never a window, never Qt
    import matplotlib.pyplot as plt

    return plt


def curves_figure(curves: list[RecipeCurves], path: Path, title: str = "") -> Path:
    """Per recipe the mean over seeds with a ±1 std band, one panel per metric held."""
    plt = _pyplot()
    panels = [p for p in PANELS if any(p[0] in c.bands for c in curves)]
    if not panels:
        raise ConfigError("No trial has finished an epoch yet: nothing to draw.")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    colors = plt.get_cmap("tab10")
    for ax, (metric, name, log) in zip(axes[0], panels, strict=True):
        for i, c in enumerate(curves):
            b = c.bands.get(metric)
            if b is None:
                continue
            color = colors(i % 10)
            ax.plot(b.epochs, b.mean, color=color, marker="o", ms=3, lw=1.6,
                    label=f"{c.label} (n={b.n})")
            if b.n > 1:
                ax.fill_between(b.epochs, b.lower(), b.upper(), color=color, alpha=0.18, lw=0)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch")
        held = [v for c in curves if metric in c.bands for v in c.bands[metric].lower()]
        if log and held and min(held) > 0 and max(held) / min(held) > 10:
            ax.set_yscale("log")  # over a decade or more: log keeps both ends legible
        ax.grid(alpha=0.25)
        ax.xaxis.get_major_locator().set_params(integer=True)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 3), fontsize=8,
               frameon=False)
    rows = math.ceil(len(labels) / 3)
    fig.suptitle(title or "Mean over seeds, band ±1 std", fontsize=11)
    fig.tight_layout(rect=(0, 0.06 * rows + 0.02, 1, 1))
    return _save(fig, plt, path)


def sweep_figure(coords: ParallelCoordinates, ranking: Importance | None, path: Path) -> Path:
    """Parallel coordinates (one line per trial, coloured by the objective) and, beside it,
    the importance of each setting."""
    plt = _pyplot()
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    wide = ranking is not None
    fig, axes = plt.subplots(1, 2 if wide else 1, figsize=(10.5 if wide else 7, 4.2),
                             squeeze=False, gridspec_kw={"width_ratios": [3, 1.3]} if wide else {})
    ax = axes[0][0]
    lows = [min(coords.objective)] if coords.objective else [0.0]
    highs = [max(coords.objective)] if coords.objective else [1.0]
    norm = Normalize(lows[0], highs[0] if highs[0] > lows[0] else lows[0] + 1e-9)
    cmap = plt.get_cmap("viridis" if not coords.metric.endswith("loss") else "viridis_r")
    xs = list(range(len(coords.axes)))
    for line, value in sorted(zip(coords.lines, coords.objective, strict=True),
                              key=lambda pair: pair[1]):  # the best drawn last, on top
        ax.plot(xs, line, color=cmap(norm(value)), lw=1.4, alpha=0.85)
    for x, axis in zip(xs, coords.axes, strict=True):
        ax.axvline(x, color="0.3", lw=0.8, zorder=3)
        for pos, text in axis.ticks():  # left of the axis, on a white patch over the lines
            ax.text(x - 0.03, pos, text, fontsize=8, va="center", ha="right", zorder=4,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1, "alpha": 0.85})
    names = [SHORT_NAMES.get(a.name, a.name) if a.name == coords.metric else a.name
             for a in coords.axes]
    ax.set_xticks(xs, [n + (" (log)" if a.log else "") for n, a in zip(names, coords.axes,
                                                                        strict=True)], fontsize=9)
    ax.set_yticks([])
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlim(-0.45, len(xs) - 0.85)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    fig.colorbar(ScalarMappable(norm, cmap), ax=ax, label=f"final {METRIC_NAMES[coords.metric]}")
    ax.set_title(f"{len(coords.lines)} finished trials, one line each", fontsize=10)
    if ranking is not None:
        bar = axes[0][1]
        names = list(ranking.scores)[::-1]
        bar.barh(names, [ranking.scores[n] for n in names], color="tab:blue")
        bar.set_xlim(0, 1)
        bar.set_title("Setting importance", fontsize=10)
        bar.set_xlabel("PED-ANOVA (Optuna), sums to 1", fontsize=8)
        bar.grid(axis="x", alpha=0.25)
    fig.tight_layout()
    return _save(fig, plt, path)


def _save(fig: Any, plt: Any, path: Path) -> Path:
    from io import BytesIO

    from core.fileio import write_bytes_atomic

    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    write_bytes_atomic(path, buffer.getvalue())
    return path
