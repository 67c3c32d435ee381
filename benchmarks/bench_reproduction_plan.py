"""The reproduction's plan: one measured epoch of each write-up model on the full training set
(CPU), times its recipe's epochs, written to docs/reproduction/plan.json, which the top of
docs/REPRODUCTION.md shows (`digitlab-cli report --reproduction`).

Each model trains exactly as its reproduction trial will (core/experiments/reproduction.py:
`--writeup-recipe`, all 60,000 training images less the recipe's validation split, the full
test set, the CPU's fast path with torch.compile), and stops after its first epoch. Epoch 1's
seconds (training and the test evaluation) times the recipe's epochs, plus the compile time
spent before epoch 1, estimate a seed's hours on this machine with its torch threads (2 on the
project's 2-core machine). Later epochs can differ a little (pg-model3's last three epochs add
SWA's BatchNorm pass and TTA), so the estimate is a plan, not a promise. Run it with nothing
else heavy on the machine: a shared CPU makes every figure longer.

    python benchmarks/bench_reproduction_plan.py            # all 19 models (hours on 2 cores)
    python benchmarks/bench_reproduction_plan.py --smoke    # 2 models, 2,000 images: a check
    python benchmarks/bench_reproduction_plan.py --models eva5-s4 pg-model3 -o /tmp/plan.json

--smoke writes into the temporary folder unless -o says otherwise: a smoke check is not a plan
(the report refuses to show one as such).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import REPO, emit, provenance

SMOKE_BASE = {"train_subset": 2000, "test_subset": 500}  # --smoke: a tiny subset
SMOKE_MODELS = 2


def measure(model: str, base: dict[str, Any], data: Any) -> dict[str, Any]:
    """Train `model`'s reproduction trial until its first epoch ends; its figures."""
    from core.experiments.reproduction import trial_config
    from core.training.control import Reporter, TrainControl
    from core.training.loop import train

    control = TrainControl()

    class StopAfterEpochOne(Reporter):
        def epoch(self, metrics: Any) -> None:
            control.request_stop()  # the loop stops at epoch 2's first batch

    config = trial_config(model, 0, base)
    t0 = time.perf_counter()
    result = train(config, reporter=StopAfterEpochOne(), control=control, data=data)
    wall = time.perf_counter() - t0
    first = result.history[0]
    hours = (result.compile_seconds + config.epochs * first.seconds) / 3600
    return {"model": model, "epochs": config.epochs, "epoch_seconds": round(first.seconds, 1),
            "compile_seconds": round(result.compile_seconds, 1),
            "estimated_hours": round(hours, 3), "wall_seconds": round(wall, 1),
            "epoch1_test_acc": first.test_acc, "batch_size": config.batch_size,
            "val_split": config.val_split}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help=f"{SMOKE_MODELS} models on {SMOKE_BASE['train_subset']:,} training "
                             f"images: checks the script, measures nothing worth planning by")
    parser.add_argument("--models", nargs="+", metavar="MODEL",
                        help="only these write-up models (default: all 19, cheapest first)")
    parser.add_argument("-o", "--output", help="where the plan goes (default: "
                                               "docs/reproduction/plan.json; --smoke: the "
                                               "temporary folder)")
    args = parser.parse_args()

    from core.data.mnist import load_mnist
    from core.experiments.reproduction import reproduction_spec, writeup_models
    from core.experiments.reproduction_records import DEFAULT_BASE, PLAN_FORMAT, VERSION
    from core.fileio import write_json_atomic

    unknown = sorted(set(args.models or []) - set(writeup_models()))
    if unknown:
        print(f"error: not write-up models: {', '.join(unknown)} (see `digitlab-cli models`).",
              file=sys.stderr)
        return 2
    base = {**DEFAULT_BASE, **(SMOKE_BASE if args.smoke else {})}
    order = list(reproduction_spec(base=base).variants)  # cheapest first
    models = [m for m in order if m in args.models] if args.models else order
    if args.smoke and not args.models:
        models = models[:SMOKE_MODELS]
    output = Path(args.output) if args.output else (
        Path(tempfile.gettempdir()) / "reproduction-plan-smoke.json" if args.smoke
        else REPO / "docs" / "reproduction" / "plan.json")

    import torch

    data = load_mnist(fetch=False)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    rows = []
    for model in models:
        row = measure(model, base, data)
        rows.append(row)
        print(f"{model}: {row['epochs']} epochs × {row['epoch_seconds']:.1f} s + compile "
              f"{row['compile_seconds']:.1f} s ≈ {row['estimated_hours']:.2f} h "
              f"(epoch 1: test {row['epoch1_test_acc']:.2f}%)", flush=True)
    info = provenance()
    plan = {"format": PLAN_FORMAT, "version": VERSION, "smoke": args.smoke,
            "train_images": base.get("train_subset") or 60000,
            "test_images": base.get("test_subset") or 10000, "device": "cpu",
            "threads": torch.get_num_threads(), "date": info["date"], "time": info["time"],
            "commit": info["commit"], "dirty": info["dirty"], "machine": info["machine"],
            "load_avg_1min_before": load_before, "command": info["command"], "models": rows,
            "total_hours_one_seed": round(sum(r["estimated_hours"] for r in rows), 2)}
    write_json_atomic(output, plan)
    summary = (f"{len(rows)} models, {plan['total_hours_one_seed']:.2f} h for one seed each on "
               f"{plan['threads']} torch threads. Wrote {output}.")
    if args.smoke:  # a plumbing check: nothing to keep in the records
        print(summary)
    else:  # the plan is also a measurement like any other: into the records
        emit("reproduction_plan", {k: plan[k] for k in (
            "train_images", "test_images", "threads", "models", "total_hours_one_seed")},
            summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
