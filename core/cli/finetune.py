"""CLI command `finetune`: teach a trained model your hand from labelled PNGs (issue 16.3)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.errors import ConfigError
from core.text import plural, printable


def cmd_finetune(args: argparse.Namespace) -> int:
    from core.jobs import ConsoleJob
    from core.paths import my_digits_dir
    from core.training.finetune import FinetuneSettings
    from core.workflows.finetune import finetune_from_folder

    if args.steps < 1:
        raise ConfigError(f"--steps {args.steps} is not a number of steps: use 1 or more.")
    output = Path(args.output)
    if output.suffix.lower() != ".onnx":
        raise ConfigError(f"{output} does not end in .onnx: name the personal model FILE.onnx.")
    folder = Path(args.images) if args.images else my_digits_dir()
    settings = FinetuneSettings(steps=args.steps, seed=args.seed)
    job = ConsoleJob(lambda text: print(text, file=sys.stderr))
    result, skipped = finetune_from_folder(args.run, folder, output, settings,
                                           checkpoint=args.checkpoint,
                                           data_dir=str(args.data) if args.data else None,
                                           job=job)
    if skipped:
        print(f"Skipped {plural(len(skipped), 'file')} in {printable(str(folder))}:",
              file=sys.stderr)
        for note in skipped[:10]:
            print(f"  {printable(note)}", file=sys.stderr)
    print(printable(result.summary()))
    return 0


def add_finetune_command(sub: argparse._SubParsersAction) -> None:
    from core.runs.best import CHECKPOINT_HELP

    p = sub.add_parser(
        "finetune", help="teach a trained model your hand: fine-tune on labelled PNGs",
        description="Fine-tune a run (or the bundled model) on your own labelled digits, "
                    "replaying MNIST so it does not forget, and export the personal model to "
                    "ONNX. Labels come from subfolders named 0-9 (My digits' layout) or from the "
                    "digit a file name starts with. At least 3 of each digit are needed; with 4 "
                    "or more, a fifth of each digit's images is held back to report accuracy "
                    "before and after.")
    p.add_argument("run", help="run id, id prefix or name, or 'bundled' for the bundled model")
    p.add_argument("--images", metavar="DIR",
                   help="folder of labelled PNGs (default: your My digits folder)")
    p.add_argument("-o", "--output", required=True, metavar="FILE.onnx",
                   help="where to write the personal model")
    p.add_argument("--checkpoint", choices=("best", "last"), default=None,
                   help=f"for a run: which checkpoint to start from; {CHECKPOINT_HELP}")
    p.add_argument("--steps", type=int, default=300, help="fine-tuning steps (default: 300)")
    p.add_argument("--seed", type=int, default=0, help="seed of the hold-out split and batches")
    p.add_argument("--data", type=Path, help="MNIST folder for replay (default: DIGITLAB_DATA "
                                             "or user dir)")
    p.set_defaults(handler=cmd_finetune)
