"""Real pen writers: models read by the 10 validation writers of UCI pendigits, both paths.

Each digit of writers 21-30 (core.data.pendigits: people no training sees) is put on the canvas at
a random size and place and read through the Draw tab's stroke path and through `predict`'s
pixel path; accuracy per path, digit and writer, and how often the paths agree. With several
targets the synthetic pen-writer proxy (core.data.pen_proxy, its validation writers) is scored
too, and the rank correlation between the two says whether the proxy ranks models as real
writers do. This is where handwriting choices are made; the MNIST test set is only reported.

    python benchmarks/bench_real_writers.py [TARGET ...] [--experiment NAME] [--proxy]

TARGET: an .onnx file or a run id / name in the run store (default: the bundled model).
--experiment NAME scores every finished trial of that experiment and summarises per recipe.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from typing import Any

from _common import emit

from core.cli.handwriting import load_target
from core.data.pendigits import VALIDATION_WRITERS, evaluate_writers, load_pendigits, read_digits
from core.paths import bundled_model_path


def _targets(args: argparse.Namespace) -> list[tuple[str, str, float | None]]:
    """(target, recipe label, final MNIST test %) to score."""
    if not args.experiment:
        return [(t, t, None) for t in args.targets or [str(bundled_model_path())]]
    from core.experiments.storage import ExperimentStore

    out = []
    for state in ExperimentStore().states(args.experiment):
        if state.finished and state.run is not None:
            out.append((state.run.id, state.trial.point.label, state.history_value("test_acc")))
    return out


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    for rank, i in enumerate(order):
        ranks[i] = float(rank)
    return ranks


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation (ties broken by order: figures here rarely tie)."""
    ra, rb = _ranks(a), _ranks(b)
    return statistics.correlation(ra, rb) if len(a) > 2 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*")
    parser.add_argument("--experiment", help="score every finished trial of this experiment")
    parser.add_argument("--checkpoint", choices=("best", "last"), default=None)
    parser.add_argument("--proxy", action="store_true",
                        help="also score the synthetic pen-writer proxy (validation writers)")
    args = parser.parse_args()

    digits = load_pendigits().of_writers(VALIDATION_WRITERS)
    inputs = read_digits(digits)
    proxy_set = None
    if args.proxy:
        from core.data.pen_proxy import VALIDATION_SEED, pen_digit_set

        proxy_set = pen_digit_set(VALIDATION_SEED)
    by_recipe: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for target, recipe, mnist in _targets(args):
        predict, _, name, _ = load_target(target, args.checkpoint)
        report = evaluate_writers(predict, digits, inputs)
        figures: dict[str, Any] = {"target": name, "recipe": recipe, "mnist_test": mnist,
                                   "real_writers": report.to_dict()}
        line = (f"{name}: real writers {report.accuracy['strokes']:.2f}% (strokes), "
                f"{report.accuracy['pixels']:.2f}% (pixels), agree {report.agreement:.1f}%, "
                f"worst writer {min(report.per_writer['strokes'].values()):.1f}%")
        if proxy_set is not None:
            from core.data.pen_proxy import evaluate_pen_proxy

            proxy = evaluate_pen_proxy(predict, proxy_set)
            figures["synthetic_writers"] = proxy.to_dict()
            line += f"; synthetic writers {proxy.accuracy['strokes']:.2f}%"
        if mnist is not None:
            line += f"; MNIST test {mnist:.2f}%"
        emit("real_writers", figures, line)
        by_recipe[recipe].append(figures)
    if len(by_recipe) > 1 or args.experiment:
        _summarise(by_recipe)


def _summarise(by_recipe: dict[str, list[dict[str, Any]]]) -> None:
    """Per recipe: mean ± std over seeds of each figure; and the proxy's rank agreement."""
    def mean_std(values: list[float]) -> tuple[float, float]:
        return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)

    real, synthetic = [], []
    summary = {}
    for recipe, rows in by_recipe.items():
        strokes = [r["real_writers"]["accuracy"]["strokes"] for r in rows]
        pixels = [r["real_writers"]["accuracy"]["pixels"] for r in rows]
        mnist = [r["mnist_test"] for r in rows if r["mnist_test"] is not None]
        summary[recipe] = {"seeds": len(rows), "strokes": mean_std(strokes),
                           "pixels": mean_std(pixels),
                           "mnist_test": mean_std(mnist) if mnist else None}
        for r in rows:
            if "synthetic_writers" in r:
                real.append(r["real_writers"]["accuracy"]["strokes"])
                synthetic.append(r["synthetic_writers"]["accuracy"]["strokes"])
    figures: dict[str, Any] = {"recipes": summary}
    lines = []
    for recipe, s in summary.items():
        mnist = (f", MNIST test {s['mnist_test'][0]:.2f} ± {s['mnist_test'][1]:.2f}%"
                 if s["mnist_test"] else "")
        lines.append(f"{recipe} ({s['seeds']} seeds): real writers strokes "
                     f"{s['strokes'][0]:.2f} ± {s['strokes'][1]:.2f}%, pixels "
                     f"{s['pixels'][0]:.2f} ± {s['pixels'][1]:.2f}%{mnist}")
    if len(real) > 2:
        figures["proxy_rank_correlation"] = round(spearman(real, synthetic), 3)
        lines.append(f"synthetic proxy vs real writers over {len(real)} models: Spearman "
                     f"{figures['proxy_rank_correlation']:+.2f}")
    emit("real_writers_summary", figures, "\n".join(lines))


if __name__ == "__main__":
    main()
