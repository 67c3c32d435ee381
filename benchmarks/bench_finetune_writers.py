"""Teach it my hand, on real writers: the gain of fine-tuning per validation writer of pendigits.

For each of the 10 validation writers (core.data.pendigits: people no training sees), --teach
drawings of each digit are read through the Draw tab's stroke path (as My digits saves them) and
the model is fine-tuned on them (`core.workflows.finetune`, MNIST replayed, nothing held back);
the base and the personal model are then scored on all of that writer's other digits (~230), and
on the MNIST test set (the personal model must not forget).

    python benchmarks/bench_finetune_writers.py [--base bundled] [--teach 5] [--teach 3]

--base: a run id / name, or 'bundled' (the model DigitLab ships, with its checkpoint).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
from pathlib import Path

import numpy as np
from _common import emit

from core.data.pendigits import VALIDATION_WRITERS, load_pendigits, read_digits
from core.onnx_io.classifier import DigitClassifier
from core.training.finetune import FinetuneSettings
from core.workflows.finetune import BUNDLED, finetune


def teach_split(labels: np.ndarray, per_digit: int, seed: int) -> np.ndarray:
    """Boolean mask: `per_digit` digits of each class (seeded) to teach with; the rest score."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), dtype=bool)
    for d in range(10):
        mask[rng.permutation(np.flatnonzero(labels == d))[:per_digit]] = True
    return mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default=BUNDLED, help="run id or name, or 'bundled'")
    parser.add_argument("--teach", type=int, action="append",
                        help="drawings of each digit to teach with (repeatable; default 5 and 3)")
    parser.add_argument("--seed", type=int, default=0, help="which drawings teach")
    parser.add_argument("--writers", type=int, default=len(VALIDATION_WRITERS),
                        help="how many of the validation writers (default: all 10)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="FinetuneSettings override, e.g. --set steps=150")
    args = parser.parse_args()
    kinds = {f.name: f.type for f in dataclasses.fields(FinetuneSettings)}
    overrides = {k: (int if kinds[k] == "int" else float)(v)
                 for k, v in (s.split("=", 1) for s in args.set)}
    settings = FinetuneSettings(**{"holdout": 0.0, **overrides})

    all_digits = load_pendigits()
    for per_digit in args.teach or [5, 3]:
        rows = []
        for writer in VALIDATION_WRITERS[:args.writers]:
            digits = all_digits.of_writers([writer])
            images = read_digits(digits, paths=("strokes",), seed=writer)["strokes"]
            teach = teach_split(digits.labels, per_digit, args.seed + writer)
            with tempfile.TemporaryDirectory() as tmp:
                result = finetune(args.base, images[teach], digits.labels[teach],
                                  Path(tmp) / "personal.onnx", settings)
                personal = DigitClassifier(result.path)
                after = 100 * float((personal.predict_proba(images[~teach]).argmax(1)
                                     == digits.labels[~teach]).mean())
            before = _base_accuracy(args.base, images[~teach], digits.labels[~teach])
            rows.append({"writer": writer, "n_scored": int((~teach).sum()),
                         "before": round(before, 2), "after": round(after, 2),
                         "mnist_before": round(result.mnist_before, 2),
                         "mnist_after": round(result.mnist_after, 2),
                         "seconds": round(result.seconds, 1)})
            print(f"  writer {writer}: {before:.1f}% -> {after:.1f}%  (MNIST "
                  f"{result.mnist_before:.2f} -> {result.mnist_after:.2f}%, "
                  f"{result.seconds:.0f} s)", flush=True)
        before = statistics.fmean(r["before"] for r in rows)
        after = statistics.fmean(r["after"] for r in rows)
        worst = min(r["after"] for r in rows)
        mnist = statistics.fmean(r["mnist_after"] - r["mnist_before"] for r in rows)
        emit("finetune_real_writers",
             {"base": args.base, "teach_per_digit": per_digit,
              "settings": dataclasses.asdict(settings), "writers": rows,
              "mean_before": round(before, 2), "mean_after": round(after, 2),
              "worst_after": worst, "mnist_change_mean": round(mnist, 3)},
             f"{args.base}, {per_digit} drawings of each digit: validation writers "
             f"{before:.2f}% -> {after:.2f}% (worst writer {worst:.1f}%), MNIST test "
             f"{mnist:+.2f} points on average")


_BASE_CACHE: dict[str, DigitClassifier] = {}


def _base_accuracy(base: str, images: np.ndarray, labels: np.ndarray) -> float:
    """The base model's accuracy, through its ONNX export (what the Draw tab runs)."""
    from core.paths import bundled_model_path

    if base not in _BASE_CACHE:
        if base == BUNDLED:
            _BASE_CACHE[base] = DigitClassifier(bundled_model_path())
        else:
            from core.workflows.export import export_run_for_draw

            _BASE_CACHE[base] = DigitClassifier(export_run_for_draw(base))
    return 100 * float((_BASE_CACHE[base].predict_proba(images).argmax(1) == labels).mean())


if __name__ == "__main__":
    main()
