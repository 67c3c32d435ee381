"""The reproduction of the write-ups on the command line (core/experiments/reproduction.py):

    digitlab-cli experiment run --reproduce [--commit-records]   train the trials without a
    digitlab-cli experiment run reproduction                      record (the same: resume)
    digitlab-cli report --reproduction [-o docs/REPRODUCTION.md]  the table, from the records
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from core.cli.experiment import ExperimentPrinter, _write_or_print
from core.errors import ConfigError
from core.experiments.statistics import cell
from core.experiments.trial import TrialOutcome
from core.text import plural

# `experiment run` options that define another kind of experiment: refused with --reproduce.
_NOT_FOR_REPRODUCTION = ("file", "model", "writeup_recipe", "variants", "grids", "search",
                         "ranges", "choices", "n_trials", "sampler_seed", "objective", "asha",
                         "description")


def add_run_options(group: argparse._ArgumentGroup) -> None:
    """`experiment run` options that only the reproduction uses."""
    group.add_argument("--records", metavar="DIR",
                       help="--reproduce: the trial records' folder (default: the checkout's "
                            "docs/reproduction/)")
    group.add_argument("--commit-records", action="store_true",
                       help="--reproduce: git-commit each trial's record as it is written "
                            "(that file only)")


def add_report_option(sub: argparse._SubParsersAction) -> None:
    """`digitlab-cli report --reproduction [--records DIR]` prints docs/REPRODUCTION.md."""
    report = sub.choices.get("report")
    if report is None:
        return
    runs_report = report.get_default("handler")
    report.add_argument("--reproduction", action="store_true",
                        help="the write-up reproduction table (docs/REPRODUCTION.md) from the "
                             "trial records in docs/reproduction/ instead")
    report.add_argument("--records", metavar="DIR",
                        help="--reproduction: read the records from DIR (default: the "
                             "checkout's docs/reproduction/)")
    report.set_defaults(handler=lambda args: (cmd_report(args) if args.reproduction
                                              else runs_report(args)))


def _folder(text: str | None) -> Path:
    from core.experiments.reproduction_records import default_folder

    if not text:
        return default_folder()
    folder = Path(text).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--records {text} is a file: give the folder of the records.")
    return folder


def cmd_report(args: argparse.Namespace) -> int:
    from core.experiments.reproduction_table import reproduction_markdown

    folder = _folder(getattr(args, "records", None))
    if getattr(args, "records", None) and not folder.is_dir():
        raise ConfigError(f"No reproduction records folder {cell(args.records)}: give the "
                          f"folder `experiment run --reproduce --records` wrote into.")
    return _write_or_print(reproduction_markdown(folder), args.output)


def cmd_run(args: argparse.Namespace, executor: Any) -> int:
    """`experiment run --reproduce` / `experiment run reproduction`; `executor` is what
    `experiment run`'s --parallel / --threads / --ray give."""
    from core.experiments.reproduction import REPRODUCTION, run_reproduction
    from core.experiments.spec import check_name, coerce

    given = [k for k in _NOT_FOR_REPRODUCTION if getattr(args, k, None)]
    if given:
        raise ConfigError(f"--{given[0].replace('_', '-')} does not go with the reproduction: "
                          f"it trains every write-up model with its own recipe (--set, "
                          f"--seeds and --val-split change its budget).")
    base: dict[str, Any] = {}
    for item in args.sets:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"--set '{item}' must look like KEY=VALUE.")
        base[key.strip()] = coerce(key.strip(), value.strip())
    if args.val_split is not None:
        base["val_split"] = args.val_split
    if "model" in base or "seed" in base:
        raise ConfigError("The reproduction trains every write-up model: --set model / seed "
                          "do not apply (use --seeds).")
    folder = _folder(args.records)
    name = check_name(args.name or REPRODUCTION)
    data_dir = str(Path(args.data).expanduser().resolve()) if args.data else ""
    printer = _Printer()
    try:
        outcome = run_reproduction(executor, folder, runs=getattr(executor, "store", None),
                                   base=base, seeds=list(args.seeds) if args.seeds else None,
                                   name=name, reporter=printer, retry_failed=args.retry_failed,
                                   data_dir=data_dir, commit=args.commit_records)
    finally:
        close = getattr(executor, "close", None)
        if close:
            close()
    print(f"Reproduction: {plural(outcome.trials_run, 'trial')} trained in "
          f"{outcome.wall_s:.1f} s, {plural(len(outcome.written), 'record')} written in "
          f"{folder.name}/; {plural(len(outcome.left), 'trial')} still without a record"
          + (f" ({', '.join(outcome.left[:6])}{', ...' if len(outcome.left) > 6 else ''})"
             if outcome.left else "")
          + ". Table: digitlab-cli report --reproduction"
          + (f" --records {cell(args.records)}" if args.records else " -o docs/REPRODUCTION.md"))
    for problem in outcome.commit_problems:
        print(f"Not committed: {cell(problem)}", file=sys.stderr)
    if outcome.failed:
        were = "was" if len(outcome.failed) == 1 else "were"
        print(f"digitlab-cli: error: {plural(len(outcome.failed), 'trial')} failed and {were} "
              f"recorded "
              f"as failed ({', '.join(outcome.failed)}): see the table's notes, then "
              f"`digitlab-cli experiment run --reproduce --retry-failed`.", file=sys.stderr)
        return 2
    return 0


class _Printer(ExperimentPrinter):
    """ExperimentPrinter's lines, counting the trials done in this session (seeds 1 and 2 join
    as the run goes, so there is no fixed total)."""

    def __init__(self) -> None:
        super().__init__(0, 0)

    def trial_finished(self, outcome: TrialOutcome) -> None:
        self.done += 1
        last = outcome.history[-1] if outcome.history else None
        figures = f", final test {last['test_acc']:.2f}%" if last else ""
        error = f": {cell(outcome.error)}" if outcome.error else ""
        print(f"[{self.done} done this session] {outcome.key} {outcome.status}{figures}{error}",
              flush=True)
