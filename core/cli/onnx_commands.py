"""CLI commands on the ONNX side: `export`, `check`, `predict`."""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import DigitLabError, ImageError
from core.runs.best import CHECKPOINT_HELP
from core.text import printable

# Drawn digits, from a 28×28 crop to a phone photo. Checked from the header, before decoding:
# a 20000×20000 PNG is a few KB on disk and 400 MB (or far more) once decoded.
MIN_IMAGE_SIDE = 8
MAX_IMAGE_SIDE = 8192
MAX_IMAGE_PIXELS = 25_000_000
MAX_IMAGE_FILE_BYTES = 64 * 2**20  # a compressed image of at most MAX_IMAGE_PIXELS
IMAGE_LIMITS = (f"images must be between {MIN_IMAGE_SIDE}×{MIN_IMAGE_SIDE} and "
                f"{MAX_IMAGE_SIDE}×{MAX_IMAGE_SIDE} pixels and at most "
                f"{MAX_IMAGE_PIXELS / 1e6:g} megapixels")


def load_image(path: Path) -> np.ndarray:
    """A PNG/JPEG of a drawn digit as an array: (H, W) grey, or (H, W, 4) when it has alpha.

    ImageError (one line, stating the limits) for unreadable files and for sizes outside them.
    """
    from PIL import Image, UnidentifiedImageError

    from core.fileio import read_untrusted

    name = printable(path, 300)
    try:
        # Kind and size checked before a byte is read: a FIFO blocked, /dev/zero never ended.
        data = read_untrusted(Path(path), MAX_IMAGE_FILE_BYTES, follow_links=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size  # from the header: nothing decoded yet
                if (min(width, height) < MIN_IMAGE_SIDE or max(width, height) > MAX_IMAGE_SIDE
                        or width * height > MAX_IMAGE_PIXELS):
                    raise ImageError(f"{name} is {width}×{height} pixels; {IMAGE_LIMITS}.")
                img.load()
                if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                    return np.asarray(img.convert("RGBA"))
                return np.asarray(img.convert("L"))
    except FileNotFoundError as e:
        raise ImageError(f"Image {name} does not exist.") from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"{name} claims more pixels than allowed; {IMAGE_LIMITS}.") from e
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as e:
        reason = printable(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__,
                           200)
        raise ImageError(f"{name} is not a readable image (PNG or JPEG expected): "
                         f"{reason}.") from e


def _json_safe(value: Any) -> Any:
    """Plain JSON values only: NaN and infinities become null (`--json` is always valid JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def print_json(value: Any) -> None:
    print(json.dumps(_json_safe(value), indent=2, allow_nan=False))


def cmd_export(args: argparse.Namespace) -> int:
    from core.fileio import check_output_file
    from core.runs.best import checkpoint_label, resolve_checkpoint
    from core.runs.store import RunStore
    from core.workflows.export import export_run

    check_output_file(Path(args.output))  # a folder as output: say so before any work
    run = RunStore().get(args.run)
    checkpoint = resolve_checkpoint(run.record, args.checkpoint)
    report = export_run(run, Path(args.output), checkpoint=checkpoint)
    diffs = ", ".join(f"batch {n}: {d:.1e}" for n, d in report.max_abs_diff.items())
    print(f"Exported {printable(run.id)} ({checkpoint_label(run.record, checkpoint)}) to "
          f"{printable(report.path)} "
          f"({report.size_bytes / 1024:.1f} KiB, {report.params:,} params). "
          f"onnx.checker passed; max |torch - onnxruntime| {diffs}.")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from core.onnx_io.classifier import DigitClassifier

    clf = DigitClassifier(Path(args.file))
    info = clf.describe()
    if args.json:
        print_json(info)
        return 0
    # Names and metadata come from the file: printed as plain text, one line each.
    for key, value in info.items():
        if isinstance(value, dict):
            print(f"{printable(key, 100)}:")
            for k, v in value.items():
                print(f"  {printable(k, 100)}: {printable(v, 300)}")
        else:
            print(f"{printable(key, 100)}: {printable(value, 300)}")
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
    if args.explain_png and len(images) != 1:
        raise ImageError("--explain-png writes one map: give one image with it (--explain "
                         "prints a map for each).")
    clf = DigitClassifier(model, normalization=args.normalization)
    results = []
    for image_path in images:
        # One bad image is one error line; the others are still read (exit 2 at the end).
        try:
            image28 = canvas_to_mnist(load_image(Path(image_path)))
            if image28 is None:
                results.append({"image": image_path, "digit": None, "top3": []})
                continue
            pred = clf.classify(image28)
        except (DigitLabError, ValueError) as e:
            results.append({"image": image_path, "error": str(e)})
            if not args.json:
                print(f"digitlab-cli: error: {printable(e, 500)}", file=sys.stderr)
            continue
        results.append({"image": image_path, "digit": pred.digit,
                        "top3": [[d, round(p, 4)] for d, p in pred.top(3)]})
        if not args.json:
            _print_prediction(results[-1])
        if args.explain or args.explain_png:
            _explain(args, clf, image28, results[-1])
    if args.json:
        print_json(results)
    failed = sum("error" in r for r in results)
    if failed:
        print(f"digitlab-cli: error: {failed} of {len(results)} images could not be read.",
              file=sys.stderr)
        return 2
    return 0


def _print_prediction(r: dict[str, Any]) -> None:
    top = "  ".join(f"{d} {p:.1%}" for d, p in r["top3"])
    digit = "none" if r["digit"] is None else r["digit"]
    print(f"{printable(r['image'], 300)}: {digit}"
          + (f"  ({top})" if top else "  (no digit on the canvas)"))


def _explain(args: argparse.Namespace, clf: Any, image28: np.ndarray,
             result: dict[str, Any]) -> None:
    """The occlusion map (core/onnx_io/explain.py): printed as text, in the JSON, and/or
    written as a PNG to the file named by --explain-png (the user's path, nothing else)."""
    from core.onnx_io.explain import as_text, occlusion, save_png

    found = occlusion(clf, image28)
    if args.explain_png:
        save_png(found, image28, Path(args.explain_png))
    if args.json:
        result["explain"] = {"runner_up": found.runner_up, "patches": found.patches,
                             "support": np.round(found.support, 4).tolist()}
        return
    if args.explain:
        print(f"Which ink favours {found.digit} (@ # + strong to weak) and which the runner-up "
              f"{found.runner_up} (~ - = strong to weak), by occluding {found.patches} squares:")
        print(as_text(found, image28))
    if args.explain_png:
        print(f"Wrote the map to {printable(args.explain_png, 300)} (red: towards "
              f"{found.digit}, blue: towards {found.runner_up}).")


def add_onnx_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a run to ONNX (verified against torch)")
    p.add_argument("run", help="run id, id prefix or name")
    p.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    p.add_argument("--checkpoint", choices=("best", "last"), default=None,
                   help=CHECKPOINT_HELP.replace("%", "%%"))
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
    p.add_argument("--explain", action="store_true",
                   help="also show which ink drove the answer and which favours the runner-up "
                        "(occlusion: forward passes of the ONNX model only)")
    p.add_argument("--explain-png", metavar="FILE.png",
                   help="write that map as a PNG (red: towards the answer, blue: towards the "
                        "runner-up); one image only")
    p.set_defaults(handler=cmd_predict)
