"""One epoch of the flagship (training + full test evaluation) on a device (default: the CPU):
DigitLab's trainer against a straightforward eager loop at batch size 128, side by side, each in
its own process so that its peak memory is its own.

The baseline is the loop the seed write-ups ran: a torch Dataset with per-sample torchvision
transforms (the same kind of random affine augmentation), a DataLoader at batch 128, an eager
model, SGD, then a test pass (benchmarks/_common.py's `EagerBaseline`, shared with
bench_time_to_accuracy.py). DigitLab's path is `core.training.loop.train` with the model's default
recipe on the CPU (core/training/speed.py): the whole set as tensors, batched augmentation, no
DataLoader, and torch.compile, whose compile time is spent before epoch 1 and reported on its own.

    python benchmarks/bench_epoch.py [--device cpu|cuda] [--model dl-dilated-8k]
                                     [--train-images 60000]

On CUDA the first epoch includes cuDNN's autotuning; use bench_frontier.py for 15-epoch figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from _common import REPO, EagerBaseline, emit


def baseline_epoch(model_name: str, n_train: int, device: str) -> dict[str, float]:
    from core.data.mnist import load_mnist

    data = load_mnist(fetch=False)
    baseline = EagerBaseline(model_name, data.train_images[:n_train], data.train_labels[:n_train],
                             data.test_images, data.test_labels, device, seed=0)
    t0 = time.perf_counter()
    baseline.train_epoch()
    test_acc = baseline.test_accuracy()
    return {"seconds": time.perf_counter() - t0, "test_acc": test_acc}


def digitlab_epoch(model_name: str, n_train: int, device: str) -> dict[str, float]:
    from core.data.mnist import load_mnist
    from core.training.config import TrainConfig
    from core.training.loop import train
    from core.workflows.launch import new_run_config

    config: TrainConfig = new_run_config({"model": model_name, "epochs": 1, "device": device,
                                          "train_subset": n_train})
    result = train(config, data=load_mnist(fetch=False))
    metrics = result.history[-1]
    return {"seconds": metrics.seconds, "test_acc": metrics.test_acc,
            "batch_size": config.batch_size, "compile": config.compile,
            "compile_s": result.compile_seconds}


def child(which: str, model_name: str, n_train: int, device: str) -> None:
    run = baseline_epoch if which == "baseline" else digitlab_epoch
    figures = run(model_name, n_train, device)
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="dl-dilated-8k")
    parser.add_argument("--train-images", type=int, default=60000)
    parser.add_argument("--device", default="cpu", help="cpu | cuda | mps")
    parser.add_argument("--child", choices=("baseline", "digitlab"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.model, args.train_images, args.device)
        return
    runs = {}
    for which in ("baseline", "digitlab"):
        out = subprocess.run([sys.executable, __file__, "--child", which, "--model", args.model,
                              "--device", args.device,
                              "--train-images", str(args.train_images)], cwd=REPO, check=True,
                             capture_output=True, text=True).stdout
        runs[which] = json.loads(out.strip().splitlines()[-1])
    speedup = runs["baseline"]["seconds"] / runs["digitlab"]["seconds"]
    figures = {"model": args.model, "device": args.device, "train_images": args.train_images,
               "baseline": runs["baseline"], "digitlab": runs["digitlab"], "speedup": speedup}
    emit("epoch", figures,
         f"{args.model}, one epoch on {args.train_images:,} images + 10,000 test, "
         f"{args.device}: baseline "
         f"eager loop (batch 128) {runs['baseline']['seconds']:.1f} s, DigitLab "
         f"{runs['digitlab']['seconds']:.1f} s (batch {runs['digitlab']['batch_size']}, "
         f"compiled first in {runs['digitlab']['compile_s']:.1f} s): "
         f"{speedup:.2f}x; peak host memory {runs['digitlab']['peak_rss_mb']:.0f} MB "
         f"(baseline {runs['baseline']['peak_rss_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
