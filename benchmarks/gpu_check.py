"""The GPU check of issue 17, in one call: the default CUDA recipe of the flagship, 5 seeds.

On a CUDA machine, for each seed, trains the flagship for 15 epochs exactly as
`digitlab-cli train --device cuda --seed S` would (new_run_config's CUDA fast path: batch 512,
bf16 autocast, channels_last, fused optimizer, torch.compile with CUDA graphs), after one
untimed warm-up run that fills the compile and autotuning caches. It reports, per seed and as
one summary:

- the warm wall time of the 15 epochs (training and each epoch's test pass; compilation is
  reported apart, as `compile_s`), against the target of at most 3 s;
- the final test accuracy, and the 5-seed mean against the target of at least 99.5%;
- the time to 99.0% and to 99.4% test accuracy (wall seconds into the run at the end of the
  first epoch whose test pass reached it).

Every line it prints is JSON ("env", then one "run" per seed, then "summary"), so the output
of a remote call is the record. MNIST must be present (the GPU machine has no network): --data,
else DIGITLAB_DATA, else shared/data/mnist in or beside the checkout, else the user data dir.

    python benchmarks/gpu_check.py                 # on the GPU machine (~1-2 min)
    python benchmarks/gpu_check.py --smoke         # on any CPU: 2,000 images, 1 epoch, 2 seeds

--smoke checks that the script runs end to end (it writes no record); its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Any

from _common import REPO, record

WALL_TARGET_S = 3.0  # 15 epochs, warm
MEAN_TARGET = 99.5  # 5-seed mean test accuracy, %
MILESTONES = (99.0, 99.4)


def out(kind: str, **figures: Any) -> None:
    print(json.dumps({"kind": kind, **figures}, default=str), flush=True)


def environment(device: str) -> dict[str, Any]:
    import torch

    env: dict[str, Any] = {"torch": torch.__version__, "python": platform.python_version(),
                           "device": device}
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(device)
        env.update(gpu=props.name, memory_gib=round(props.total_memory / 2**30, 1),
                   cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
    return env


def one_run(overrides: dict[str, Any], data: Any) -> dict[str, Any]:
    """Train once; wall seconds from the end of compilation to the end of the last epoch."""
    from core.training.control import Reporter
    from core.training.loop import train
    from core.workflows.launch import new_run_config

    marks: dict[str, float] = {}

    class Clock(Reporter):
        def status(self, text: str) -> None:
            if text.startswith(("Compiled", "Training eagerly")):
                marks["compiled"] = time.perf_counter()

    config = new_run_config(overrides)
    t0 = time.perf_counter()
    result = train(config, reporter=Clock(), data=data)
    end = time.perf_counter()
    history = result.history
    elapsed, reached = 0.0, {}
    for m in history:  # each epoch's seconds: training + its test pass, pauses excluded
        elapsed += m.seconds
        for target in MILESTONES:
            if m.test_acc >= target and target not in reached:
                reached[target] = round(elapsed, 3)
    return {"seed": config.seed, "model": config.model, "batch_size": config.batch_size,
            "lr": config.lr, "compile": config.compile, "amp": config.amp,
            "epochs": len(history), "final_test_acc": history[-1].test_acc,
            "wall_s": round(end - marks.get("compiled", t0), 3),
            "epochs_s": round(sum(m.seconds for m in history), 3),
            "compile_s": round(result.compile_seconds, 3),
            **{f"time_to_{t}": reached.get(t) for t in MILESTONES},
            "test_accs": [round(m.test_acc, 2) for m in history]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="default: the flagship (TrainConfig)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--data", help="MNIST folder (default: DIGITLAB_DATA or the user dir)")
    parser.add_argument("--smoke", action="store_true",
                        help="CPU, 2,000 training / 500 test images, 1 epoch, seeds 0 and 1")
    args = parser.parse_args()
    from core.data.mnist import load_mnist
    from core.errors import DigitLabError

    base: dict[str, Any] = {"device": args.device, "epochs": args.epochs}
    seeds = args.seeds
    if args.smoke:
        base = {"device": "cpu", "epochs": 1, "train_subset": 2000, "test_subset": 500}
        seeds = seeds[:2]
    if args.model:
        base["model"] = args.model
    if base["device"].startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("gpu_check: no CUDA device here (use --smoke to try it on the CPU).")
    folder = args.data or os.environ.get("DIGITLAB_DATA")
    for root in (REPO, REPO.parent):  # the project's shared copy, where it travels along
        candidate = root / "shared" / "data" / "mnist"
        if not folder and candidate.is_dir():
            folder = str(candidate)
    try:
        data = load_mnist(folder, fetch=False)
    except DigitLabError as e:
        raise SystemExit(f"gpu_check: {e}") from e
    out("env", **environment(base["device"]), smoke=args.smoke)

    warm = one_run({**base, "seed": seeds[0], "epochs": 1}, data)  # compile + autotune caches
    out("warmup", compile_s=warm["compile_s"], wall_s=warm["wall_s"])
    runs = []
    for seed in seeds:
        run = one_run({**base, "seed": seed}, data)
        runs.append(run)
        out("run", **run)

    accs = [r["final_test_acc"] for r in runs]
    walls = [r["wall_s"] for r in runs]

    def mean_of(key: str) -> float | None:
        values = [r[key] for r in runs if r[key] is not None]
        return round(statistics.mean(values), 3) if len(values) == len(runs) else None

    summary = {
        "model": runs[0]["model"], "device": base["device"], "seeds": seeds,
        "epochs": base["epochs"], "mean_test_acc": round(statistics.mean(accs), 3),
        "min_test_acc": min(accs), "max_test_acc": max(accs),
        "mean_wall_s": round(statistics.mean(walls), 3), "max_wall_s": max(walls),
        "mean_compile_s": round(statistics.mean(r["compile_s"] for r in runs), 3),
        "first_compile_s": warm["compile_s"],
        **{f"mean_time_to_{t}": mean_of(f"time_to_{t}") for t in MILESTONES},
        "wall_target_met": statistics.mean(walls) <= WALL_TARGET_S,
        "accuracy_target_met": statistics.mean(accs) >= MEAN_TARGET,
        "smoke": args.smoke,
    }
    out("summary", **summary)
    if not args.smoke:
        record("gpu_check", {**summary, "runs": runs, "env": environment(base["device"])})


if __name__ == "__main__":
    sys.exit(main())
