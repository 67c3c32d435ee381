"""CLI command `handwriting`: a model's accuracy on real pen writers and on two proxies."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.runs.best import CHECKPOINT_HELP
from core.text import printable

# Spearman's rank correlation between the synthetic pen-writer proxy and the real validation
# writers over the 15 models of the handwriting-recipes experiment (benchmarks/records.jsonl,
# "real_writers_summary"): too weak to choose by, so the proxies are opt-in.
PROXY_RANK = 0.33


def _setting(config: dict[str, Any], key: str) -> int:
    """A whole-number training setting recorded in a file (0 when absent or not a number)."""
    value = config.get(key) or 0
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def load_target(target: str, checkpoint: str | None) -> tuple[Any, dict[str, Any], str, bool]:
    """TARGET → (predict, training config, display name, is a run)."""
    path = Path(target)
    if path.suffix.lower() == ".onnx" or path.is_file():
        from core.onnx_io.classifier import DigitClassifier

        clf = DigitClassifier(path)  # a missing or broken file raises ModelFileError
        try:
            config = json.loads(clf.metadata.get("digitlab.config", "{}"))
        except ValueError:
            config = {}
        return clf.predict_proba, config if isinstance(config, dict) else {}, clf.name, False

    from core.data.pen_styles import torch_predictor
    from core.runs.best import checkpoint_label, resolve_checkpoint
    from core.runs.store import RunStore
    from core.training.checkpoints import model_from_state

    run = RunStore().get(target)  # unknown run: RunNotFoundError
    checkpoint = resolve_checkpoint(run.record, checkpoint)  # None: never one test picked
    state = run.load_checkpoint(checkpoint)
    weights = "EMA weights" if state.get("ema") is not None else "weights"
    # model_from_state prefers the EMA weights, as `eval` and `export` do.
    return (torch_predictor(model_from_state(state)), state["config"],
            f"run {run.id} ({checkpoint_label(run.record, checkpoint)}, {weights})", True)


def _real_writers(predict: Any, folder: Path | None) -> Any:
    """The validation writers' report, or the one-line reason they could not be read."""
    from core.data.pendigits import VALIDATION_WRITERS, evaluate_writers, load_pendigits
    from core.errors import DatasetError

    try:
        digits = load_pendigits(folder).of_writers(VALIDATION_WRITERS)
    except DatasetError as e:
        if folder is not None:  # asked for by name: its absence is an error
            raise
        return str(e)
    return evaluate_writers(predict, digits)


def cmd_handwriting(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise ConfigError(f"--n {args.n} is not a number of digits: use 1 or more.")
    predict, config, name, is_run = load_target(args.target, args.checkpoint)
    real = _real_writers(predict, args.pen_digits) if args.real else None
    proxies = _proxies(predict, config, name, is_run, args) if args.proxies else None
    if args.json:
        out: dict[str, Any] = {"target": name}
        if isinstance(real, str):
            out["real_writers"] = {"missing": real}
        elif real is not None:
            out["real_writers"] = real.to_dict()
        if proxies is not None:
            styles, writers = proxies
            out.update({"split": args.split, **styles.to_dict(),
                        "pen_writers": writers.to_dict()})
        print(json.dumps(out, indent=2))
        return 0
    if isinstance(real, str):
        print(f"real pen writers: not measured ({printable(real)})\n")
    elif real is not None:
        print(f"{printable(name)}: digits drawn by real people on a tablet, read as the Draw "
              f"tab reads strokes and as `predict` reads images\n")
        print(real.table() + "\n")
    if proxies is not None:
        styles, writers = proxies
        print(f"Synthetic proxies (they rank models unlike real writers: Spearman {PROXY_RANK:+.2f}"
              f" over 15 models, docs/HANDWRITING.md)\n")
        print(writers.table() + "\n")
        print(f"{printable(name)}: the first {styles.n:,} {args.split} digits redrawn as pen "
              f"strokes on the canvas, then preprocessed like the Draw tab\n")
        print(styles.table())
    return 0


def _proxies(predict: Any, config: dict[str, Any], name: str, is_run: bool,
             args: argparse.Namespace) -> tuple[Any, Any]:
    """(MNIST redrawn in pen styles, synthetic pen writers) reports."""
    from core.data.mnist import load_mnist
    from core.data.pen_proxy import TEST_SEED, VALIDATION_SEED, evaluate_pen_proxy, pen_digit_set
    from core.data.pen_styles import evaluate_pen_styles

    # A run's own data folder, as `eval` uses; an ONNX file's recorded one may be another machine's.
    folder = args.data or (config.get("data_dir") if is_run else None) or None
    data = load_mnist(folder, fetch=False)
    if args.split == "val":
        n_val, subset, seed = (_setting(config, k) for k in ("val_split", "train_subset", "seed"))
        if n_val <= 0:
            raise ConfigError(f"{name} was trained without a validation split (val_split 0 or "
                              f"not recorded), so there is none to use: use --split test.")
        # Rebuild the exact split training held out: the same subset, size and seed.
        data = data.subset(subset, 0).with_validation(n_val, seed=seed)
        images, labels = data.val_images, data.val_labels
    else:
        images, labels = data.test_images, data.test_labels
    assert images is not None and labels is not None
    styles = evaluate_pen_styles(predict, images, labels, n=args.n, seed=args.seed)
    # The writers' proxy: the fixed test writers, or the validation writers for --split val.
    writers = evaluate_pen_proxy(predict, pen_digit_set(
        VALIDATION_SEED if args.split == "val" else TEST_SEED))
    return styles, writers


def add_handwriting_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("handwriting", help="accuracy on pen-drawn digits: real writers, proxies",
                       description="Real pen writers: the digits of the 10 validation writers "
                                   "of UCI pendigits (people in neither MNIST nor training), "
                                   "placed on the canvas at random sizes and read through the "
                                   "Draw tab's stroke path and `predict`'s pixel path, per "
                                   "digit and per writer. With --proxies, two synthetic proxies "
                                   "too (they rank models unlike real writers). Pen writers: 2,000 "
                                   "digits by 40 synthetic writers (open and closed 4s, barred "
                                   "and footed 7s, flagged 1s, open-top 9s, slants, sizes, pens "
                                   "of 8-24 units), a fixed set no training sees, read through "
                                   "the Draw tab's stroke path and through `predict`'s pixel "
                                   "path. MNIST as pen strokes: MNIST digits redrawn as uniform "
                                   "pen strokes (thin, thick, slanted, narrow, wide, mixed), per "
                                   "style.")
    p.add_argument("target", help="an .onnx model file, or a run id, id prefix or name")
    p.add_argument("--n", type=int, default=1000,
                   help="--proxies: digits per style (default: 1000)")
    p.add_argument("--seed", type=int, default=0,
                   help="--proxies: seed of the random styles (default: 0)")
    p.add_argument("--split", choices=("test", "val"), default="test",
                   help="MNIST test set, or the validation split the model was trained with")
    p.add_argument("--checkpoint", choices=("best", "last"), default=None,
                   help="for a run: " + CHECKPOINT_HELP.replace("%", "%%"))
    p.add_argument("--data", type=Path, help="MNIST folder (default: DIGITLAB_DATA or user dir)")
    p.add_argument("--real", action=argparse.BooleanOptionalAction, default=True,
                   help="score the 10 validation writers of the real pen digits (UCI "
                        "pendigits, DIGITLAB_PENDIGITS), through both paths, per digit and "
                        "per writer (~10 s)")
    p.add_argument("--pen-digits", type=Path, metavar="DIR",
                   help="folder of pendigits_train_strokes.npz (default: DIGITLAB_PENDIGITS)")
    p.add_argument("--proxies", action="store_true",
                   help="also score the two synthetic proxies (~40 s; they rank models unlike "
                        "real writers, so nothing is chosen on them)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_handwriting)
