"""Teach it your hand: the gain of fine-tuning on synthetic writers no model has seen.

Each writer (core.data.pen_digits, seed FINETUNE_SEED by default: writers neither the training
re-drawings nor the proxy use) writes --teach drawings of each digit to fine-tune on (as My
digits would hold them, through the Draw tab's stroke path) and --test more of each, kept out of
fine-tuning, to score the base and the personal model on. Also reported: the MNIST test set
before and after (the personal model must not forget: at most -0.1 points), and the personal
model on the proxy's other writers (core.data.pen_proxy TEST_SEED), which it was not taught.

    python benchmarks/bench_finetune.py [--writers 5] [--teach 10] [--test 20] [--base bundled]
    python benchmarks/bench_finetune.py --seed 16001 --set lr=0.003   # choices: validation writers
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
from pathlib import Path

import numpy as np
from _common import emit

from core.data.pen_digits import make_writers
from core.data.pen_proxy import FINETUNE_SEED, TEST_SEED, pen_digit_set
from core.jobs import ConsoleJob
from core.onnx_io.classifier import DigitClassifier
from core.training.finetune import FinetuneSettings
from core.workflows.finetune import BUNDLED, finetune


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=5)
    parser.add_argument("--teach", type=int, default=10, help="drawings of each digit to teach")
    parser.add_argument("--test", type=int, default=20, help="drawings of each digit to score")
    parser.add_argument("--seed", type=int, default=FINETUNE_SEED, help="the writers' seed")
    parser.add_argument("--base", default=BUNDLED, help="run id or name, or 'bundled'")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="FinetuneSettings override, e.g. --set steps=150")
    parser.add_argument("--others", action=argparse.BooleanOptionalAction, default=True,
                        help="also score each personal model on the proxy's other writers")
    args = parser.parse_args()
    kinds = {f.name: f.type for f in dataclasses.fields(FinetuneSettings)}
    overrides = {k: (int if kinds[k] == "int" else float)(v)
                 for k, v in (s.split("=", 1) for s in args.set)}
    settings = FinetuneSettings(**overrides)
    others = pen_digit_set(TEST_SEED, paths=("strokes",)) if args.others else None

    rows = []
    for i, writer in enumerate(make_writers(args.writers, args.seed)):
        data = pen_digit_set(args.seed + 100 + i, per_digit=args.teach + args.test,
                             paths=("strokes",), writers=[writer])
        images, labels = data.images["strokes"], data.labels
        first = np.zeros(len(labels), dtype=bool)
        for d in range(10):  # the first --teach drawings of each digit teach, the rest test
            first[np.flatnonzero(labels == d)[: args.teach]] = True
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "personal.onnx"
            result = finetune(args.base, images[first], labels[first], out, settings,
                              job=ConsoleJob(None))
            base = DigitClassifier(_base_file(args.base, tmp))
            personal = DigitClassifier(out)
            test_x, test_y = images[~first], labels[~first]
            before = 100 * float((base.predict_proba(test_x).argmax(1) == test_y).mean())
            after = 100 * float((personal.predict_proba(test_x).argmax(1) == test_y).mean())
            row = {"writer": i, "styles": dict(enumerate(writer.allographs)),
                   "before": round(before, 2), "after": round(after, 2),
                   "mnist_before": result.mnist_before, "mnist_after": result.mnist_after}
            if others is not None:
                x, y = others.images["strokes"], others.labels
                row["others_before"] = round(
                    100 * float((base.predict_proba(x).argmax(1) == y).mean()), 2)
                row["others_after"] = round(
                    100 * float((personal.predict_proba(x).argmax(1) == y).mean()), 2)
        rows.append(row)
        print(f"writer {i}: {before:.1f}% -> {after:.1f}% on {len(test_y)} held-out drawings; "
              f"MNIST {result.mnist_before:.2f}% -> {result.mnist_after:.2f}%"
              + (f"; other writers {row['others_before']:.2f}% -> {row['others_after']:.2f}%"
                 if others is not None else ""), flush=True)

    mean = {k: round(statistics.fmean(r[k] for r in rows), 2) for k in rows[0]
            if k not in ("writer", "styles")}
    emit("finetune", {"base": args.base, "seed": args.seed, "teach": args.teach,
                      "test": args.test, "settings": dataclasses.asdict(settings),
                      "writers": rows, "mean": mean},
         f"fine-tuning on {args.teach} drawings per digit, {len(rows)} writers: held-out "
         f"{mean['before']:.2f}% -> {mean['after']:.2f}% "
         f"(gain {mean['after'] - mean['before']:+.2f}); "
         f"MNIST {mean['mnist_before']:.2f}% -> {mean['mnist_after']:.2f}% "
         f"(worst drop {min(r['mnist_after'] - r['mnist_before'] for r in rows):+.2f})")


def _base_file(base: str, folder: str) -> Path:
    """The base model as ONNX: the bundled file, or the run's checkpoint exported."""
    from core.paths import bundled_model_path

    if base == BUNDLED:
        return bundled_model_path()
    from core.runs.store import RunStore
    from core.workflows.export import export_run

    return export_run(RunStore().get(base), Path(folder) / "base.onnx", "last").path


if __name__ == "__main__":
    main()
