"""The accuracy frontier: a model trained with its recipe over several seeds, as an experiment.

A thin call of the experiment machinery (core/experiments): each seed is a trial, an ordinary run
in the run store trained exactly as `digitlab-cli train --model M --seed S` would, and the same
experiment is one command without this script:

    digitlab-cli experiment run frontier-dl-dilated-8k --model dl-dilated-8k --seeds 0 1 2 3 4
    digitlab-cli experiment report frontier-dl-dilated-8k

This script runs (or resumes) that experiment and records the figures RESULTS.md's frontier
tables are generated from (benchmarks/records.jsonl): final-epoch accuracy per seed, mean, min,
max, and the "consistently" criterion's lowest accuracy over each seed's last three epochs.

    python benchmarks/bench_frontier.py --model dl-dilated-8k --seeds 0 1 2 3 4
    python benchmarks/bench_frontier.py --model dl-compact-4k --val-split 10000 --set lr=0.02

With --val-split the figures are the validation split's (held out of the training images): that
is where recipes are chosen. Without it they are the MNIST test set's, reported, never tuned on.
"""

from __future__ import annotations

import argparse
import re
import statistics
from typing import Any

from _common import emit


def experiment_name(model: str, val_split: int, overrides: dict[str, Any]) -> str:
    parts = [f"frontier-{model}"] + ([f"val{val_split}"] if val_split else [])
    parts += [f"{k}{v}" for k, v in overrides.items() if k != "device"]
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(parts))[:64]


def main() -> None:
    from core.experiments.local import LocalExecutor
    from core.experiments.runner import run_experiment
    from core.experiments.spec import ExperimentSpec, coerce
    from core.experiments.trial import ExperimentReporter, TrialOutcome
    from core.training.devices import device_label, resolve_device

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="dl-dilated-8k")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--val-split", type=int, default=0,
                        help="hold out this many training images and report on them")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="recipe override (repeatable), e.g. --set lr=0.02")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    parser.add_argument("--parallel", type=int, default=1, help="seeds at once (CPU processes)")
    parser.add_argument("--name", help="experiment name (default: from model and settings)")
    args = parser.parse_args()
    overrides = {k: coerce(k, v) for k, v in (s.split("=", 1) for s in args.set)}
    spec = ExperimentSpec(args.name or experiment_name(args.model, args.val_split, overrides),
                          model=args.model, seeds=list(args.seeds),
                          base={**overrides, "device": args.device, "val_split": args.val_split})
    spec.validate()

    compile_s: dict[str, float] = {}

    class Compiles(ExperimentReporter):
        def trial_finished(self, outcome: TrialOutcome) -> None:
            compile_s[outcome.key] = outcome.compile_seconds

    outcome = run_experiment(spec, LocalExecutor(parallel=args.parallel), reporter=Compiles())
    done = [s for s in outcome.states if s.status == "completed" and s.run is not None]
    if len(done) < len(outcome.states):
        raise SystemExit(f"{len(outcome.states) - len(done)} seed(s) did not complete: see "
                         f"`digitlab-cli experiment status {spec.name}`")
    key = "val_acc" if args.val_split else "test_acc"
    per_seed = []
    for state in done:
        history, config = state.run.history, state.run.config
        accs = [m[key] for m in history]
        per_seed.append({
            "seed": state.trial.seed, "run": state.run.id, "final": accs[-1],
            "last3": accs[-3:], "best": max(accs),
            "final_loss": history[-1]["val_loss" if args.val_split else "test_loss"],
            "test_final": history[-1]["test_acc"], "batch_size": config["batch_size"],
            "lr": config["lr"], "compile": config["compile"],
            "compile_s": compile_s.get(state.trial.key, 0.0),
            # Training plus a test pass after every epoch, compile excluded (reported apart).
            "epochs_s": sum(m["seconds"] for m in history),
            "epoch_s": statistics.mean(m["seconds"] for m in history)})
    finals = [s["final"] for s in per_seed]
    split = "validation" if args.val_split else "test"
    summary = {"model": args.model, "split": split, "overrides": {**overrides,
                                                                  "device": args.device},
               "seeds": args.seeds, "experiment": spec.name,
               "mean": statistics.mean(finals), "min": min(finals), "max": max(finals),
               "min_last3": min(min(s["last3"]) for s in per_seed),
               "mean_final_loss": statistics.mean(s["final_loss"] for s in per_seed),
               "mean_epoch_s": statistics.mean(s["epoch_s"] for s in per_seed),
               "mean_15_epochs_s": statistics.mean(s["epochs_s"] for s in per_seed),
               "mean_compile_s": statistics.mean(s["compile_s"] for s in per_seed),
               "device": device_label(resolve_device(args.device)), "per_seed": per_seed}
    emit("frontier", summary,
         f"{args.model} {overrides or ''} over {len(finals)} seeds, final-epoch {split} accuracy: "
         f"mean {summary['mean']:.2f}%, min {summary['min']:.2f}%, max {summary['max']:.2f}%; "
         f"lowest of any seed's last 3 epochs {summary['min_last3']:.2f}%; on "
         f"{summary['device']}: {summary['mean_15_epochs_s']:.1f} s for all epochs with their "
         f"test passes (+{summary['mean_compile_s']:.1f} s compiling first). Report: "
         f"digitlab-cli experiment report {spec.name}")


if __name__ == "__main__":
    main()
