"""`digitlab-cli`: the headless face of DigitLab. Every command's --help is its documentation.

    digitlab-cli models                 the zoo: name, seed, params, receptive field, budget
    digitlab-cli summary MODEL          per-layer table: output shape, params, receptive field, jump
    digitlab-cli train [options]        train (default: our best model under 8k, fastest device)
    digitlab-cli runs                   the run store
    digitlab-cli eval RUN               accuracy, per-class accuracy, confusion matrix
    digitlab-cli report [RUN ...]       Markdown results table across runs
    digitlab-cli fetch                  download MNIST into the data folder
    digitlab-cli export RUN -o FILE     ONNX export;  check FILE;  predict [FILE] IMAGE...
    digitlab-cli handwriting TARGET     pen-digit proxies: synthetic writers, MNIST as pen strokes
    digitlab-cli finetune RUN -o F.onnx teach it your hand: fine-tune on labelled PNGs

User errors print one line and exit 2; no traceback.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import math
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

from core.cli.experiment import add_experiment_commands
from core.cli.finetune import add_finetune_command
from core.cli.handwriting import add_handwriting_command
from core.cli.onnx_commands import add_onnx_commands
from core.cli.run_commands import add_run_commands, interrupted_message, print_damaged
from core.errors import ConfigError, DigitLabError
from core.runs.best import CHECKPOINT_HELP
from core.text import plural, printable
from core.training.control import Reporter
from core.training.metrics import EpochMetrics, StartInfo, StepMetrics

Handler = Callable[[argparse.Namespace], int]


def _printable(value: object) -> str:
    """Text from files (run names) may hold control characters: never print them raw."""
    return printable(value, limit=120)


def _print_table(rows: list[list[str]], header: list[str]) -> None:
    """Columns as wide as their widest cell (header included), two spaces apart."""
    cells = [[_printable(x) for x in row] for row in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *cells, strict=False)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(x.ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())


# --- zoo ----------------------------------------------------------------------------------------

def cmd_models(args: argparse.Namespace) -> int:
    from core.models import list_models
    from core.models.zoo_info import zoo_table

    rows = []
    for spec, info in zip(list_models(), zoo_table(), strict=True):
        rows.append([spec.name, spec.source, f"{info.params:,}", str(info.receptive_field),
                     "yes" if info.under_budget else "no"])
    _print_table(rows, ["name", "from", "params", "RF", "<8k"])
    if args.verbose:
        print()
        for spec in list_models():
            print(f"{spec.name}: {spec.description}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from core.models import build_model, get_spec
    from core.models.layers import summarize

    spec = get_spec(args.model)
    print(f"{spec.name} ({spec.source})\n{spec.description}\n")
    print(summarize(build_model(spec.name)).to_text())
    return 0


# --- training -----------------------------------------------------------------------------------

def _option_text(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per TrainConfig field. The help shows what applies when nothing is given: the
    default model's recipe where it sets the field, TrainConfig's default elsewhere (not the bare
    TrainConfig defaults, which that recipe overrides)."""
    from core.models import get_spec
    from core.training.config import TrainConfig
    from core.training.speed import device_recipe

    model = TrainConfig.model
    spec = get_spec(model)
    defaults = TrainConfig().with_overrides(**spec.recipe)
    # What each kind of device then changes (the fast path): shown per device where it differs.
    per_device = {kind: defaults.with_overrides(**device_recipe(kind, defaults.to_dict(),
                                                                spec.is_ours))
                  for kind in ("cpu", "cuda", "mps")}
    for f in fields(TrainConfig):
        if f.name == "data_dir":
            continue
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        values: dict[str, list[str]] = {}
        for kind, config in per_device.items():
            values.setdefault(_option_text(getattr(config, f.name)), []).append(kind)
        shown = (next(iter(values)) if len(values) == 1 else
                 ", ".join(f"{v} on {'/'.join(kinds)}" for v, kinds in values.items()))
        origin = f"; {model}'s recipe" if f.name in spec.recipe else ""
        help_text = f"(default: {shown}{origin})".replace("%", "%%")
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                                help=help_text)
        else:
            parser.add_argument(flag, type=type(default), default=None, metavar=f.name.upper(),
                                help=help_text)


class ProgressPrinter(Reporter):
    """A reporter for terminals: a live bar on stderr, one line per epoch on stdout."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.info: StartInfo | None = None

    def status(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr)

    def download(self, what: str, done: int, total: int) -> None:
        if self.tty and not self.quiet:
            pct = f"{100 * done / total:5.1f}%" if total else f"{done / 1e6:.1f} MB"
            print(f"\rFetching {what}: {pct}", end="", file=sys.stderr, flush=True)
            if total and done >= total:
                print(file=sys.stderr)

    def started(self, info: StartInfo) -> None:
        self.info = info
        resumed = f", resuming after epoch {info.start_epoch}" if info.start_epoch else ""
        length = (f"a time budget of {info.time_budget:g} s, epochs of"
                  if info.time_budget else f"{plural(info.epochs, 'epoch')} x")
        print(f"Training {printable(info.model)} ({info.params:,} params) on {info.device}: "
              f"{length} {info.steps_per_epoch} steps, {info.n_train:,} train / "
              f"{info.n_test:,} test images{resumed}. Run: {printable(info.run_id)}", flush=True)

    def step(self, metrics: StepMetrics) -> None:
        if not self.tty or self.quiet or self.info is None:
            return
        epoch = math.ceil(metrics.epoch)
        done = metrics.epoch - (epoch - 1)
        of = "" if self.info.time_budget else f"/{self.info.epochs}"
        print(f"\repoch {epoch}{of} [{'#' * int(30 * done):<30}] "
              f"loss {metrics.loss:.4f}  lr {metrics.lr:.4g}", end="", file=sys.stderr, flush=True)

    def epoch(self, metrics: EpochMetrics) -> None:
        if self.tty and not self.quiet:
            print("\r" + " " * 79 + "\r", end="", file=sys.stderr)
        m = metrics
        val = f"  val {m.val_acc:.2f}%" if m.val_acc is not None else ""
        print(f"epoch {m.epoch:2d}  train loss {m.train_loss:.4f} acc {m.train_acc:.2f}%  "
              f"test loss {m.test_loss:.4f} acc {m.test_acc:.2f}%{val}  "
              f"{m.seconds:.1f} s  {m.samples_per_s:,.0f} img/s", flush=True)


def cmd_train(args: argparse.Namespace) -> int:
    from core.training.budget import BudgetStart
    from core.workflows.launch import new_run_config, start_training

    overrides = {f.name: getattr(args, f.name) for f in _config_fields()
                 if getattr(args, f.name, None) is not None}
    if args.resume is not None:
        _check_resume_alone(args, overrides)
    if args.data:
        overrides["data_dir"] = str(args.data)
    printer = ProgressPrinter(args.quiet)
    config = new_run_config(overrides, writeup_recipe=args.writeup_recipe)
    # At exit, Python's last garbage collections walk every object torch.compile left behind:
    # 3.3 s of a 30 s budget on the busy 2-core machine, 0.6 s once they are frozen out of them.
    atexit.register(gc.freeze)
    try:
        # A time budget counts the whole command, start-up included.
        budget_start = BudgetStart.process() if config.time_budget else None
        result = start_training(config, printer, resume=args.resume, name=args.name,
                                budget_start=budget_start)
    except KeyboardInterrupt:
        print(interrupted_message(printer.info.run_id if printer.info else args.resume),
              file=sys.stderr)
        return 130
    last = result.history[-1] if result.history else None
    if last is not None:
        print(f"Finished ({result.status}): final test accuracy {last.test_acc:.2f}% after "
              f"{plural(result.epochs_done, 'epoch')}.")
    if result.verdict:  # a time budget spent before the model was trained: say so, even --quiet
        print(result.verdict)
    return 0 if result.status == "completed" else 1


def _check_resume_alone(args: argparse.Namespace, overrides: dict[str, object]) -> None:
    """--resume continues a run with the settings it was started with: refuse what it would
    otherwise ignore (a time budget, epochs, a name...) and an empty run name."""
    if not args.resume.strip():
        raise ConfigError("--resume needs a run id or name (see `digitlab-cli runs`).")
    given = ["--" + k.replace("_", "-") for k in overrides]
    given += [flag for flag, value in (("--data", args.data), ("--name", args.name),
                                       ("--writeup-recipe", args.writeup_recipe)) if value]
    if given:
        raise ConfigError(f"--resume continues run {printable(args.resume, 80)} with the "
                          f"settings it started with; {', '.join(given)} cannot change them. "
                          f"Leave {'it' if len(given) == 1 else 'them'} out, or start a new run.")


def _config_fields():  # type: ignore[no-untyped-def]
    from core.training.config import TrainConfig

    return [f for f in fields(TrainConfig) if f.name != "data_dir"]


def _train_epilog() -> str:
    from core.training.speed import CUDA_BATCH_SCALE

    return (
        "The defaults above are what a plain `digitlab-cli train` uses: the default model's "
        "recipe (the settings it was tuned with on a validation split) over TrainConfig's "
        "defaults, then the device's fast path (torch.compile on the CPU; on CUDA also bf16, "
        f"and for our models batch x{CUDA_BATCH_SCALE} with the learning rate "
        f"x{CUDA_BATCH_SCALE ** 0.5:g}). With --model, that model's recipe applies instead: "
        "always for DigitLab's own models (`digitlab-cli models`, from \"DigitLab\"), and for a "
        "write-up's model with --writeup-recipe. Options you give always win.")


# --- runs ---------------------------------------------------------------------------------------

def cmd_runs(args: argparse.Namespace) -> int:
    from core.runs.report import format_seconds, summarize_run
    from core.runs.store import RunStore

    store = RunStore()
    entries = store.list_runs()  # damaged runs are listed too, saying what is wrong
    records = [r for r in entries if r.damaged is None]
    damaged = [r for r in entries if r.damaged is not None]
    if not entries:
        print(f"No runs yet in {store.root}. Start one with `digitlab-cli train`.")
        return 0
    rows = []
    for r in records:
        s = summarize_run(r)
        # A run's name defaults to its id; a dash then says "not named" instead of a blank.
        rows.append([s.id, s.name if s.name != s.id else "–", s.model, s.status,
                     f"{s.epochs_done}/{s.epochs_planned}",
                     "–" if s.best_acc is None else f"{s.best_acc:.2f}%",
                     "–" if s.final_acc is None else f"{s.final_acc:.2f}%",
                     format_seconds(s.seconds)])
    rows += [[d.id, "–", "–", "damaged", "–", "–", "–", "–"] for d in damaged]
    _print_table(rows, ["id", "name", "model", "status", "epochs", "best", "final", "time"])
    if damaged:
        print()
        print_damaged(damaged)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from core.runs.evaluation import evaluate_run
    from core.runs.store import RunStore

    run = RunStore().get(args.run)
    report = evaluate_run(run, checkpoint=args.checkpoint, data_dir=args.data)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    for line in report.to_text().splitlines():
        print(printable(line))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from core.fileio import check_output_file, write_bytes_atomic
    from core.runs.report import markdown_table, summarize_run
    from core.runs.store import RunStore

    if args.output:
        check_output_file(Path(args.output))  # a folder as output: say so before any work
    store = RunStore()
    if args.runs:
        records = [store.get(k).record for k in args.runs]
    else:
        records = store.list()
        print_damaged(store.damaged(), sys.stderr)  # left out of the table, not silently
    text = markdown_table([summarize_run(r) for r in records])
    if args.output:
        write_bytes_atomic(Path(args.output), text.encode())
        print(f"Wrote {printable(args.output)} ({len(records)} runs).")
    else:
        print(text, end="")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from core.data.mnist import fetch_mnist, find_mnist_files, load_arrays
    from core.paths import default_data_dir

    folder = Path(args.data) if args.data else default_data_dir()
    if find_mnist_files(folder) is None:
        printer = ProgressPrinter()
        fetch_mnist(folder, printer.download)
    arrays = load_arrays(folder)
    print(f"MNIST ready in {folder}: {len(arrays.train_labels):,} training and "
          f"{len(arrays.test_labels):,} test images.")
    return 0


# --- entry --------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digitlab-cli", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("models", help="list the model zoo")
    p.add_argument("-v", "--verbose", action="store_true", help="also print each description")
    p.set_defaults(handler=cmd_models)

    p = sub.add_parser("summary", help="per-layer summary of a zoo model")
    p.add_argument("model")
    p.set_defaults(handler=cmd_summary)

    p = sub.add_parser("train", help="train a model (defaults: our best under 8k, fastest device)",
                       description="Train a zoo model. Unset options take the model's recipe for "
                                   "the device (see --writeup-recipe), then TrainConfig defaults.")
    p.epilog = _train_epilog()
    _add_config_options(p)
    p.add_argument("--data", type=Path, help="MNIST folder (default: DIGITLAB_DATA or user dir)")
    # "seed" alone means the random seed; the source documents are write-ups. The old flag stays.
    p.add_argument("--writeup-recipe", "--seed-recipe", dest="writeup_recipe",
                   action="store_true",
                   help="use the training settings of the write-up the model comes from")
    p.add_argument("--resume", metavar="RUN", help="continue a stopped or interrupted run")
    p.add_argument("--name", default="", help="display name for the new run")
    p.add_argument("-q", "--quiet", action="store_true", help="only the per-epoch lines")
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("runs", help="list saved runs")
    p.set_defaults(handler=cmd_runs)

    p = sub.add_parser("eval", help="evaluate a run: accuracy, per-class, confusion matrix")
    p.add_argument("run", help="run id, id prefix or name")
    p.add_argument("--checkpoint", choices=("best", "last"), default=None,
                   help=CHECKPOINT_HELP.replace("%", "%%"))
    p.add_argument("--data", type=Path, help="MNIST folder")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_eval)

    p = sub.add_parser("report", help="Markdown results table across runs")
    p.add_argument("runs", nargs="*", help="runs to include (default: all)")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("fetch", help="download MNIST (torchvision mirrors) if missing")
    p.add_argument("--data", type=Path, help="target folder (default: DIGITLAB_DATA or user dir)")
    p.set_defaults(handler=cmd_fetch)

    add_onnx_commands(sub)
    add_run_commands(sub)
    add_handwriting_command(sub)
    add_finetune_command(sub)
    add_experiment_commands(sub)  # after `report`: it adds report --reproduction
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except DigitLabError as e:
        print(f"digitlab-cli: error: {printable(e, limit=2000)}", file=sys.stderr)
        return 2
    except OSError as e:  # a file error no command foresaw: still one line, naming the file
        from core.fileio import os_error_message

        print(f"digitlab-cli: error: {printable(os_error_message(e), limit=2000)}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # `train` says itself which run to resume; anything else just stopped.
        print("digitlab-cli: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
