"""CLI commands on the ONNX side: `export`, `check`, `predict`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from core.errors import ImageError


def load_image(path: Path) -> np.ndarray:
    """A PNG/JPEG of a drawn digit as an array: (H, W) grey, or (H, W, 4) when it has alpha."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                return np.asarray(img.convert("RGBA"))
            return np.asarray(img.convert("L"))
    except FileNotFoundError as e:
        raise ImageError(f"Image {path} does not exist.") from e
    except (UnidentifiedImageError, OSError) as e:
        raise ImageError(f"{path} is not a readable image (PNG or JPEG expected): {e}") from e


def cmd_export(args: argparse.Namespace) -> int:
    from core.onnx_io.export import export_run
    from core.runs.store import RunStore

    run = RunStore().get(args.run)
    report = export_run(run, Path(args.output), checkpoint=args.checkpoint)
    diffs = ", ".join(f"batch {n}: {d:.1e}" for n, d in report.max_abs_diff.items())
    print(f"Exported {run.id} ({args.checkpoint}) to {report.path} "
          f"({report.size_bytes / 1024:.1f} KiB, {report.params:,} params). "
          f"onnx.checker passed; max |torch - onnxruntime| {diffs}.")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from core.onnx_io.classifier import DigitClassifier

    clf = DigitClassifier(Path(args.file))
    info = clf.describe()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    for key, value in info.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for k, v in value.items():
                print(f"  {k}: {v}")
        else:
            print(f"{key}: {value}")
    return 0


def _predict_inputs(args: argparse.Namespace) -> tuple[Path, list[str]]:
    """`predict [MODEL.onnx] IMAGE...`: a first file ending in .onnx is the model (as is
    --model); without one, the bundled model reads the images."""
    from core.paths import bundled_model_path

    files = list(args.files)
    model = Path(args.model) if args.model else None
    if model is None and files and files[0].lower().endswith(".onnx"):
        model = Path(files.pop(0))
    if not files:
        raise ImageError("No image to classify: give one or more PNG/JPEG files after the "
                         "model, e.g. `digitlab-cli predict my7.png`.")
    return model or bundled_model_path(), files


def cmd_predict(args: argparse.Namespace) -> int:
    from core.data.canvas import canvas_to_mnist
    from core.onnx_io.classifier import DigitClassifier

    model, images = _predict_inputs(args)
    clf = DigitClassifier(model, normalization=args.normalization)
    results = []
    for image_path in images:
        image28 = canvas_to_mnist(load_image(Path(image_path)))
        if image28 is None:
            results.append({"image": image_path, "digit": None, "top3": []})
            continue
        pred = clf.classify(image28)
        results.append({"image": image_path, "digit": pred.digit,
                        "top3": [[d, round(p, 4)] for d, p in pred.top(3)]})
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:
        top = "  ".join(f"{d} {p:.1%}" for d, p in r["top3"])
        digit = "none" if r["digit"] is None else r["digit"]
        print(f"{r['image']}: {digit}" + (f"  ({top})" if top else "  (no digit on the canvas)"))
    return 0


def add_onnx_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a run to ONNX (verified against torch)")
    p.add_argument("run", help="run id, id prefix or name")
    p.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("check", help="validate an ONNX digit model and show what it holds")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_check)

    p = sub.add_parser("predict", help="classify images of drawn digits with an ONNX model",
                       usage="%(prog)s [-h] [MODEL.onnx] IMAGE [IMAGE ...] [options]")
    p.add_argument("files", nargs="+", metavar="[MODEL.onnx] IMAGE",
                   help="PNG/JPEG files, after an optional ONNX model (default: the bundled one)")
    p.add_argument("--model", metavar="FILE", help="the ONNX model (instead of a first .onnx)")
    p.add_argument("--normalization", choices=("auto", "none", "mnist"), default="auto",
                   help="input normalisation for files without DigitLab metadata")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_predict)
