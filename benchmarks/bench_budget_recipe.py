"""How a recipe for `--time-budget` is chosen: validation accuracy after a fixed number of steps.

A time budget buys a number of optimizer steps (its seconds times the step rate the trainer
measures, e.g. ~1,200 flagship steps in 30 s on the 2-core machine); a recipe for that budget is
one that is most accurate after that many steps, on the time budget's own schedule (OneCycle or
cosine completed on the last step, one evaluation at the end). This script trains exactly that
(core.training.loop.train_to_budget with a StepBudget) on a validation split held out of the
training images, so the comparison does not depend on what else the machine is doing. The
test accuracy is recorded, never used to choose.

    python benchmarks/bench_budget_recipe.py --model dl-dilated-8k --steps 1200 --seeds 0 1 \
        --set augment=0 --set ema=true

Runs eagerly unless --compile (same steps, same figures up to float rounding; compiling a new
model costs minutes on a busy 2-core machine).

`--seconds B` compares what a step count cannot: recipes that change the step rate (bf16, batch
size, compilation). Each seed is then a real `digitlab-cli train --time-budget B --val-split N`
process with the --set options as its command-line options on top of the time-budget recipe
(no --model: the recipe's own), its validation accuracy read from the run it saved:

    python benchmarks/bench_budget_recipe.py --seconds 30 --seeds 0 1 2 --set cpu_bf16=true
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

from _common import budget_run, emit


def cli_options(overrides: dict[str, Any]) -> list[str]:
    """{"cpu_bf16": True, "lr": 0.03} → ["--cpu-bf16", "--lr", "0.03"] for `digitlab-cli train`."""
    options = []
    for key, value in overrides.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            options.append(flag if value else f"--no-{key.replace('_', '-')}")
        else:
            options += [flag, str(value)]
    return options


def by_the_clock(args: argparse.Namespace, overrides: dict[str, Any]) -> None:
    """--seconds: one real time-budget process per seed, compared on validation accuracy."""
    extra = ["--val-split", str(args.val_split), *cli_options(overrides)]
    if args.model_given:
        extra += ["--model", args.model]
    runs = [budget_run(args.seconds, seed, "cpu", extra) for seed in args.seeds]
    for run in runs:
        print(f"seed {run['seed']}: validation {run['val_acc']:.2f}%, {run['steps']:,} steps "
              f"({run['epochs']:.2f} epochs) in {run['wall_s']:.1f} s, test {run['test_acc']:.2f}% "
              "(recorded only)", flush=True)
    val = [r["val_acc"] for r in runs]
    figures = {"model": runs[0]["model"], "note": args.note, "seconds": args.seconds,
               "val_split": args.val_split, "overrides": overrides, "runs": runs,
               "mean_val_acc": round(statistics.mean(val), 3),
               "mean_steps": round(statistics.mean(r["steps"] for r in runs))}
    emit("budget_recipe", figures,
         f"{figures['model']} {overrides or '(the time-budget recipe)'}, {args.seconds:g} s: "
         f"validation {', '.join(f'{v:.2f}' for v in val)} (mean {figures['mean_val_acc']:.2f}%,"
         f" {figures['mean_steps']:,} steps)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None,
                        help="default: dl-dilated-8k (--steps); the time-budget recipe's "
                             "(--seconds)")
    steps_or_seconds = parser.add_mutually_exclusive_group(required=True)
    steps_or_seconds.add_argument("--steps", type=int, help="a fixed step count (no clock)")
    steps_or_seconds.add_argument("--seconds", type=float,
                                  help="a real --time-budget of this many seconds per seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--val-split", type=int, default=10_000)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="recipe override (repeatable), e.g. --set augment=0")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's)")
    parser.add_argument("--note", default="", help="what this variant is, for the table")
    args = parser.parse_args()
    args.model_given = args.model is not None
    from core.experiments.spec import coerce

    overrides = {k: coerce(k, v) for k, v in (s.split("=", 1) for s in args.set)}
    if args.seconds is not None:
        by_the_clock(args, overrides)
        return

    import torch

    from core.data.mnist import load_mnist
    from core.training.budget import StepBudget
    from core.training.control import Reporter, TrainControl
    from core.training.loop import train_to_budget
    from core.training.state import build_state
    from core.workflows.launch import new_run_config

    if args.threads:
        torch.set_num_threads(args.threads)
    args.model = args.model or "dl-dilated-8k"
    data = load_mnist(fetch=False)
    per_seed: list[dict[str, Any]] = []
    for seed in args.seeds:
        config = new_run_config({"model": args.model, "device": "cpu", "seed": seed,
                                 "val_split": args.val_split, "compile": args.compile,
                                 **overrides})
        state = build_state(config, Reporter(), TrainControl(), None, data, resume=False)
        budget = StepBudget(args.steps, state.steps_per_epoch, config.batch_size)
        final = train_to_budget(state, budget).history[-1]
        per_seed.append({"seed": seed, "val_acc": final.val_acc, "val_loss": final.val_loss,
                         "test_acc": final.test_acc, "epochs": args.steps / state.steps_per_epoch})
        print(f"seed {seed}: validation {final.val_acc:.2f}% (loss {final.val_loss:.4f}), "
              f"test {final.test_acc:.2f}% (recorded only)", flush=True)
    val = [s["val_acc"] for s in per_seed]
    figures = {"model": args.model, "note": args.note, "steps": args.steps,
               "val_split": args.val_split,
               "overrides": overrides, "batch_size": config.batch_size,
               "epochs": round(per_seed[0]["epochs"], 3), "per_seed": per_seed,
               "mean_val_acc": round(statistics.mean(val), 3),
               "mean_val_loss": round(statistics.mean(s["val_loss"] for s in per_seed), 5)}
    emit("budget_recipe", figures,
         f"{args.model} {overrides or '(its recipe)'}, {args.steps} steps "
         f"({figures['epochs']:.2f} epochs): validation {', '.join(f'{v:.2f}' for v in val)} "
         f"(mean {figures['mean_val_acc']:.2f}%)")


if __name__ == "__main__":
    main()
