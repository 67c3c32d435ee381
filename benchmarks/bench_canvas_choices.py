"""How drawn digits are read, decided on real writers: the canvas preprocessing's choices.

For a model (default: the bundled one), on the 10 validation writers of core.data.pendigits:
- the stroke path (`strokes_to_mnist`) with other pen widths for the redrawn strokes;
- the pixel path (`canvas_to_mnist`) with other stroke-width bands (strokes outside the band
  are grown or shrunk to MNIST's width), and how often it then agrees with the stroke path;
and, for the pixel path, MNIST's own test digits enlarged onto the 280 × 280 canvas (what a scan
or a PNG of a real digit gives `predict`), which a band must not hurt.

    python benchmarks/bench_canvas_choices.py [MODEL.onnx] [--mnist 2000]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from _common import emit
from PIL import Image

import core.data.canvas as canvas_module
from core.data.canvas import canvas_to_mnist
from core.data.mnist import load_mnist
from core.data.pendigits import (
    EVAL_SEED,
    PEN_RANGE,
    VALIDATION_WRITERS,
    load_pendigits,
    paint_strokes,
    place_on_canvas,
)
from core.data.strokes import strokes_to_mnist
from core.onnx_io.classifier import DigitClassifier
from core.paths import bundled_model_path

WIDTHS = (2.0, 2.3, 2.6, 3.0)
BANDS = ((1.0, math.inf), (1.0, 4.0), (1.0, 3.3), (1.5, 3.3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default=str(bundled_model_path()))
    parser.add_argument("--mnist", type=int, default=2000, help="MNIST test digits to enlarge")
    args = parser.parse_args()
    clf = DigitClassifier(args.model)
    digits = load_pendigits().of_writers(VALIDATION_WRITERS)
    rng = np.random.default_rng(EVAL_SEED)
    placed = [place_on_canvas(s, rng) for s in digits.strokes]
    pens = rng.uniform(*PEN_RANGE, size=len(placed))
    blank = np.zeros((28, 28), np.float32)

    def answers(images: list[np.ndarray | None]) -> np.ndarray:
        batch = np.stack([blank if x is None else x for x in images])
        return clf.predict_proba(batch).argmax(axis=1)

    def pct(hits: np.ndarray) -> float:
        return round(100 * float(hits.mean()), 2)

    figures: dict[str, object] = {"model": clf.name, "n": len(digits)}
    strokes = {w: answers([strokes_to_mnist(p, width=w) for p in placed]) for w in WIDTHS}
    figures["strokes_width"] = {str(w): pct(a == digits.labels) for w, a in strokes.items()}
    reference = strokes[2.6]
    painted = [paint_strokes(p, pen) for p, pen in zip(placed, pens, strict=True)]
    data = load_mnist(fetch=False)
    enlarged = [np.asarray(Image.fromarray(img).resize((280, 280), Image.Resampling.BILINEAR))
                for img in data.test_images[: args.mnist]]
    bands = {}
    default = canvas_module.WIDTH_BAND
    try:
        for band in BANDS:
            canvas_module.WIDTH_BAND = band
            pixels = answers([canvas_to_mnist(c) for c in painted])
            mnist = answers([canvas_to_mnist(c) for c in enlarged])
            bands[f"{band[0]:g}-{band[1]:g}"] = {
                "writers": pct(pixels == digits.labels), "agreement": pct(pixels == reference),
                "mnist_enlarged": pct(mnist == data.test_labels[: args.mnist])}
    finally:
        canvas_module.WIDTH_BAND = default
    figures["pixels_band"] = bands
    emit("canvas_choices", figures,
         f"{clf.name}: strokes width " + ", ".join(
             f"{w} {a}%" for w, a in figures["strokes_width"].items()) + "; pixel bands " +
         ", ".join(f"{b}: writers {v['writers']}%, agree {v['agreement']}%, MNIST enlarged "
                   f"{v['mnist_enlarged']}%" for b, v in bands.items()))


if __name__ == "__main__":
    main()
