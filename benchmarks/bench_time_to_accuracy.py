"""Accuracy against wall-clock seconds: `digitlab-cli train --time-budget` beside an eager loop.

DigitLab: the real command, `digitlab-cli train --time-budget B --device cpu --seed S`, one
fresh process per budget and seed, its whole wall time measured from outside (start-up,
MNIST, compilation, training, the final evaluation and exit), its test accuracy read from the
run it saved. The baseline, in the same benchmark: a straightforward eager loop like the
write-ups' (a Dataset with per-sample torchvision transforms, a DataLoader at batch 128, SGD
with momentum at a constant rate, the same model) in its own process, evaluated on the test
set after every epoch, with its process's wall-clock seconds at each epoch's end (its test
passes are left out of its clock, in its favour), until it has run as long as the largest budget.

    python benchmarks/bench_time_to_accuracy.py [--budgets 30 60] [--seeds 0 1 2]

Prints one JSON line and one readable line per DigitLab run, then the summary (recorded in
benchmarks/records.jsonl, from which RESULTS.md's table is made).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time

from _common import REPO, emit

TARGETS = {30: 99.4, 60: 99.5}  # issue 17: test accuracy each seed must reach in that budget
OVERRUN_S = 10.0  # ... with the whole process at most this much longer than its budget


def digitlab_run(budget: float, seed: int, device: str, extra: list[str]) -> dict:
    """One `digitlab-cli train --time-budget` process: wall time, accuracy, what it chose."""
    from core.runs.store import RunStore

    cmd = [sys.executable, "-m", "core.cli", "train", "--time-budget", f"{budget:g}",
           "--device", device, "--seed", str(seed), "--quiet", *extra]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[1:])} failed:\n{out.stderr[-2000:]}")
    run_id = re.search(r"Run: (\S+)", out.stdout)
    if run_id is None:
        raise SystemExit(f"no run id in the output of {' '.join(cmd[1:])}:\n{out.stdout}")
    record = RunStore().get(run_id.group(1)).record
    final = record.history[-1]
    chosen = record.env.get("time_budget", {})
    return {"budget_s": budget, "seed": seed, "model": record.model, "run": record.id,
            "wall_s": round(wall, 2), "test_acc": final["test_acc"],
            "steps": chosen.get("steps"), "epochs": round(chosen.get("epochs", 0.0), 3),
            "steps_per_s": round(chosen.get("final_steps_per_s", 0.0), 1),
            "startup_s": round(chosen.get("startup_s", 0.0), 2),
            "training_s": round(chosen.get("training_s", 0.0), 2),
            "evaluation_s": round(chosen.get("evaluation_s", 0.0), 2),
            "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2)}


def baseline_child(model_name: str, seconds: float, seed: int, device: str,
                   train_subset: int) -> None:
    """The eager loop, in this (child) process: prints one JSON line per epoch."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms

    from core.data.mnist import MNIST_MEAN, MNIST_STD, load_mnist
    from core.models import build_model
    from core.training.budget import process_start_time

    started = process_start_time()
    data = load_mnist(fetch=False).subset(train_subset)
    norm = transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))
    augment = transforms.Compose([
        transforms.RandomAffine(degrees=8, translate=(0.08, 0.08), scale=(0.92, 1.08), shear=6),
        transforms.ToTensor(), norm])
    plain = transforms.Compose([transforms.ToTensor(), norm])

    class Mnist(Dataset):
        def __init__(self, images, labels, transform) -> None:  # type: ignore[no-untyped-def]
            self.images, self.labels, self.transform = images, labels, transform

        def __len__(self) -> int:
            return len(self.labels)

        def __getitem__(self, i: int):  # type: ignore[no-untyped-def]
            from PIL import Image

            return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])

    torch.manual_seed(seed)
    train = DataLoader(Mnist(data.train_images, data.train_labels, augment), batch_size=128,
                       shuffle=True)
    test = DataLoader(Mnist(data.test_images, data.test_labels, plain), batch_size=1000)
    model = build_model(model_name).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    evaluating = 0.0  # seconds of test passes, left out of the baseline's clock
    epoch = 0
    while time.time() - started - evaluating < seconds:
        model.train()
        for x, y in train:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
        epoch += 1
        at = time.time() - started - evaluating
        t_eval = time.perf_counter()
        correct = 0
        model.eval()
        with torch.no_grad():
            for x, y in test:
                correct += (model(x.to(device)).argmax(1) == y.to(device)).sum().item()
        evaluating += time.perf_counter() - t_eval
        print(json.dumps({"epoch": epoch, "wall_s": round(at, 2),
                          "test_acc": 100 * correct / len(data.test_labels)}), flush=True)


def baseline_run(model_name: str, seconds: float, seed: int, device: str,
                 train_subset: int) -> list[dict]:
    out = subprocess.run([sys.executable, __file__, "--baseline-child", model_name,
                          "--seconds", str(seconds), "--device", device, "--seeds", str(seed),
                          "--train-subset", str(train_subset)],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def accuracy_at(curve: list[dict], seconds: float) -> float | None:
    """The baseline's accuracy at `seconds`: its last evaluated epoch by then."""
    done = [p["test_acc"] for p in curve if p["wall_s"] <= seconds]
    return done[-1] if done else None


def time_to(curve: list[dict], accuracy: float) -> float | None:
    return next((p["wall_s"] for p in curve if p["test_acc"] >= accuracy), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[30.0, 60.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--baseline-seeds", type=int, default=1,
                        help="eager-loop runs (the first N seeds); 0 skips the baseline")
    parser.add_argument("--train-subset", type=int, default=0,
                        help="train on the first N images (0: all): quick checks of the script")
    parser.add_argument("--train-option", action="append", default=[], metavar="OPT",
                        help="extra `digitlab-cli train` option, e.g. --train-option=--model=X")
    parser.add_argument("--baseline-child", metavar="MODEL", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_child:
        baseline_child(args.baseline_child, args.seconds, args.seeds[0], args.device,
                       args.train_subset)
        return

    runs = []
    for seed in args.seeds:
        for budget in args.budgets:
            extra = [*args.train_option, "--train-subset", str(args.train_subset)]
            run = digitlab_run(budget, seed, args.device, extra)
            runs.append(run)
            print(json.dumps({"digitlab": run}), flush=True)
            print(f"digitlab-cli train --time-budget {budget:g} --seed {seed}: "
                  f"{run['test_acc']:.2f}% in {run['wall_s']:.1f} s ({run['model']}, "
                  f"{run['epochs']:.2f} epochs, load {run['load_before']:.1f})", flush=True)
    model = runs[0]["model"]
    baselines = [baseline_run(model, max(args.budgets), seed, args.device, args.train_subset)
                 for seed in args.seeds[:args.baseline_seeds]]
    summary = {}
    for budget in args.budgets:
        accs = [r["test_acc"] for r in runs if r["budget_s"] == budget]
        walls = [r["wall_s"] for r in runs if r["budget_s"] == budget]
        target = TARGETS.get(int(budget))
        summary[f"{budget:g}"] = {
            "digitlab_accs": accs, "digitlab_min": min(accs), "digitlab_max_wall_s": max(walls),
            "target": target,
            "met": target is not None and min(accs) >= target
                   and max(walls) <= budget + OVERRUN_S,
            "baseline_accs": [accuracy_at(c, budget) for c in baselines]}
    figures = {"device": args.device, "model": model, "seeds": args.seeds,
               "train_subset": args.train_subset,
               "budgets": args.budgets, "digitlab": runs, "baseline": baselines,
               "baseline_time_to_99.0": [time_to(c, 99.0) for c in baselines],
               "baseline_time_to_99.4": [time_to(c, 99.4) for c in baselines],
               "summary": summary}

    def shown(acc: float | None) -> str:
        return "no epoch done" if acc is None else f"{acc:.2f}%"

    line = "; ".join(
        f"{b} s: DigitLab min {s['digitlab_min']:.2f}% over seeds {args.seeds} (target "
        f"{s['target']}%: {'met' if s['met'] else 'NOT met'}), eager loop "
        f"{', '.join(shown(a) for a in s['baseline_accs']) or 'not run'}"
        for b, s in summary.items())
    emit("time_to_accuracy", figures, f"{model} on {args.device}: {line}")


if __name__ == "__main__":
    main()
