"""The accuracy frontier: a model trained with its default recipe over several seeds.

Each seed is a real run in the run store (so the Compare tab shows them side by side), trained
exactly as `digitlab-cli train --model M --seed S` would. Figures come from the final epoch; the
"consistently" criterion is the lowest test accuracy over each seed's last three epochs.

    python benchmarks/bench_frontier.py --model dl-dilated-8k --seeds 0 1 2 3 4
    python benchmarks/bench_frontier.py --model dl-compact-4k --val-split 10000 --set lr=0.02

With --val-split the figures are the validation split's (held out of the training images): that
is where recipes are chosen. Without it they are the MNIST test set's, reported, never tuned on.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from _common import emit


def parse_value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def run_seed(model: str, seed: int, val_split: int, overrides: dict[str, Any],
             label: str) -> dict[str, Any]:
    from core.training.devices import device_label, resolve_device
    from core.training.launch import new_run_config, start_training

    config = new_run_config({"model": model, "seed": seed, "val_split": val_split, **overrides})
    t0 = time.perf_counter()
    result = start_training(config, name=f"{label}{model} seed {seed}")
    wall = time.perf_counter() - t0
    key = "val_acc" if val_split else "test_acc"
    accs = [getattr(m, key) for m in result.history]
    losses = [m.val_loss if val_split else m.test_loss for m in result.history]
    return {"seed": seed, "final": accs[-1], "last3": accs[-3:], "best": max(accs),
            "final_loss": losses[-1], "test_final": result.history[-1].test_acc,
            "device": device_label(resolve_device(config.device)), "batch_size": config.batch_size,
            "lr": config.lr, "compile": config.compile, "compile_s": result.compile_seconds,
            # Training plus a test pass after every epoch, compile excluded (reported apart).
            "epochs_s": sum(m.seconds for m in result.history), "process_wall_s": wall,
            "epoch_s": statistics.mean(m.seconds for m in result.history)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="dl-dilated-8k")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--val-split", type=int, default=0,
                        help="hold out this many training images and report on them")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="recipe override (repeatable), e.g. --set lr=0.02")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    parser.add_argument("--label", default="frontier: ", help="run-name prefix in the store")
    args = parser.parse_args()
    overrides = {k: parse_value(v) for k, v in (s.split("=", 1) for s in args.set)}
    overrides["device"] = args.device
    per_seed = []
    for seed in args.seeds:
        figures = run_seed(args.model, seed, args.val_split, overrides, args.label)
        per_seed.append(figures)
        print(json.dumps({"benchmark": "frontier_seed", "model": args.model, **figures}),
              flush=True)
    finals = [s["final"] for s in per_seed]
    split = "validation" if args.val_split else "test"
    summary = {"model": args.model, "split": split, "overrides": overrides, "seeds": args.seeds,
               "mean": statistics.mean(finals), "min": min(finals), "max": max(finals),
               "min_last3": min(min(s["last3"]) for s in per_seed),
               "mean_final_loss": statistics.mean(s["final_loss"] for s in per_seed),
               "mean_epoch_s": statistics.mean(s["epoch_s"] for s in per_seed),
               "mean_15_epochs_s": statistics.mean(s["epochs_s"] for s in per_seed),
               "mean_compile_s": statistics.mean(s["compile_s"] for s in per_seed),
               "device": per_seed[0]["device"], "per_seed": per_seed}
    emit("frontier", summary,
         f"{args.model} {overrides or ''} over {len(finals)} seeds, final-epoch {split} accuracy: "
         f"mean {summary['mean']:.2f}%, min {summary['min']:.2f}%, max {summary['max']:.2f}%; "
         f"lowest of any seed's last 3 epochs {summary['min_last3']:.2f}%; on "
         f"{summary['device']}: {summary['mean_15_epochs_s']:.1f} s for all epochs with their "
         f"test passes (+{summary['mean_compile_s']:.1f} s compiling first)")


if __name__ == "__main__":
    main()
