"""Pen-style check: accuracy on MNIST test digits redrawn as pen strokes, per style and target.

Each of the first --n test digits is thinned to its skeleton, redrawn with a round pen in every
style of core.data.pen_styles.STYLES (thin/medium/thick pen, slants, proportions, mixed) on a
280×280 canvas and preprocessed like the Draw tab. The set is built once and shared by all
targets; its build time is reported.

    python benchmarks/bench_handwriting.py [TARGET ...] [--n 1000] [--seed 0]

TARGET: an .onnx file or a run id / name in the run store (default: the bundled model).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import emit

from core.cli.handwriting import load_target
from core.data.mnist import load_mnist
from core.data.pen_styles import STYLES, evaluate_pen_styles, pen_style_images
from core.paths import bundled_model_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", default=[str(bundled_model_path())])
    parser.add_argument("--n", type=int, default=1000, help="test digits per style")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best")
    args = parser.parse_args()

    data = load_mnist(fetch=False)
    images, labels = data.test_images[: args.n], data.test_labels[: args.n]
    t0 = time.perf_counter()
    sets = pen_style_images(images, STYLES, args.seed)
    build_s = time.perf_counter() - t0

    for target in args.targets:
        predict, _, name, _ = load_target(target, args.checkpoint)
        report = evaluate_pen_styles(predict, images, labels, n=args.n, seed=args.seed, sets=sets)
        figures = {"target": name, "file": target if Path(target).is_file() else None,
                   **report.to_dict(), "build_seconds": round(build_s, 2)}
        styles = "  ".join(f"{k} {v:.2f}" for k, v in report.accuracy.items())
        worst, worst_acc = report.worst
        emit("handwriting", figures,
             f"{name}: MNIST {report.mnist_accuracy:.2f}% -> pen styles {styles}; mean "
             f"{report.mean:.2f}%, worst {worst} {worst_acc:.2f}% ({report.n:,} digits/style, "
             f"set built in {build_s:.1f} s)")


if __name__ == "__main__":
    main()
