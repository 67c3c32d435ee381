"""One drawn digit end to end on the CPU: canvas → MNIST 28×28 → onnxruntime → probabilities.

The canvas is a 280×280 RGBA image (what the Draw tab hands over) holding a real MNIST test digit
re-painted at a random size and place. Target: p50 under 1 ms.

    python benchmarks/bench_draw_latency.py [--model FILE.onnx] [--n 3000]

--model defaults to the bundled model.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import emit, percentile

from core.data.canvas import canvas_to_mnist
from core.data.mnist import load_mnist
from core.onnx_io.classifier import DigitClassifier
from core.paths import bundled_model_path
from tests.support.mnist_helpers import paint_digit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(bundled_model_path()))
    parser.add_argument("--n", type=int, default=3000, help="timed digits")
    parser.add_argument("--canvas", type=int, default=280, help="canvas side in pixels")
    args = parser.parse_args()

    clf = DigitClassifier(args.model)
    data = load_mnist(fetch=False)
    rng = np.random.default_rng(0)
    canvases = [paint_digit(data.test_images[i], args.canvas, fraction=rng.uniform(0.3, 0.9),
                            position=(rng.uniform(0.25, 0.75), rng.uniform(0.25, 0.75)),
                            fmt="rgba") for i in range(200)]
    for canvas in canvases[:50]:  # warm-up: first runs allocate
        clf.classify(canvas_to_mnist(canvas))
    pre, total = [], []
    for i in range(args.n):
        canvas = canvases[i % len(canvases)]
        t0 = time.perf_counter()
        image = canvas_to_mnist(canvas)
        t1 = time.perf_counter()
        clf.classify(image)
        t2 = time.perf_counter()
        pre.append((t1 - t0) * 1e3)
        total.append((t2 - t0) * 1e3)
    figures = {"model": clf.name, "params": clf.param_count, "canvas": args.canvas, "n": args.n,
               "preprocess_p50_ms": percentile(pre, 50), "preprocess_p99_ms": percentile(pre, 99),
               "total_p50_ms": percentile(total, 50), "total_p99_ms": percentile(total, 99)}
    emit("draw_latency", figures,
         f"{args.canvas}x{args.canvas} canvas -> {clf.name}: end to end p50 "
         f"{figures['total_p50_ms']:.3f} ms, p99 {figures['total_p99_ms']:.3f} ms "
         f"(preprocessing p50 {figures['preprocess_p50_ms']:.3f} ms); target p50 < 1 ms: "
         f"{'met' if figures['total_p50_ms'] < 1 else 'MISSED'}")


if __name__ == "__main__":
    main()
