"""Experiments: a recipe over seeds, a sweep over settings, on this machine or a Ray cluster.

    digitlab-cli experiment run aug --model dl-dilated-4k --seeds 0 1 2 \\
        --variant "A:label_smoothing=0.05,augment=1.0" --variant "B:augment=0.3" --val-split 10000
    digitlab-cli experiment run lr --grid lr=0.01,0.02,0.04 --val-split 10000 --parallel 2
    digitlab-cli experiment run tpe --search tpe --range lr=0.005:0.05:log --n-trials 8 ...
    digitlab-cli experiment run big --file sweep.toml --ray auto --asha
    digitlab-cli experiment run NAME           resume: only missing or unfinished trials run
    digitlab-cli experiment run --reproduce    every write-up model; records in docs/reproduction/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.experiments.statistics import cell
from core.experiments.trial import ExperimentReporter, TrialOutcome
from core.text import plural
from core.training.metrics import EpochMetrics, StartInfo

TOML_EXAMPLE = """\
A definition file (--file) holds the same as the flags:

    name = "aug"
    model = "dl-dilated-4k"
    seeds = [0, 1, 2]
    objective = "val_acc"            # or "val_loss"
    [base]                           # settings of every trial
    val_split = 10000
    [variants.A]                     # named recipes (optional)
    label_smoothing = 0.05
    [variants.B]
    augment = 0.3
    [search]
    kind = "grid"                    # grid | random | tpe
    [search.space]
    lr = [0.01, 0.02]                # random/tpe also take {low = 0.005, high = 0.05, log = true}
"""

# Options that define an experiment; any of them given means "this definition", none "resume".
_DEFINING = ("file", "model", "writeup_recipe", "seeds", "sets", "variants", "grids", "search",
             "ranges", "choices", "n_trials", "sampler_seed", "val_split", "objective", "asha",
             "description", "reproduce")


def _key_values(text: str, what: str) -> tuple[str, list[str]]:
    key, sep, values = text.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise ConfigError(f"{what} '{text}' must look like KEY=VALUE[,VALUE...].")
    return key.strip(), [v.strip() for v in values.split(",")]


def spec_from_args(args: argparse.Namespace):  # -> ExperimentSpec
    """An ExperimentSpec from the command line (or its --file, then the flags on top)."""
    from core.experiments.reproduction import REPRODUCTION, reproduction_spec
    from core.experiments.spec import AshaSpec, ExperimentSpec, Range, coerce

    base: dict[str, Any] = {}
    for item in args.sets:
        key, values = _key_values(item, "--set")
        base[key] = coerce(key, ",".join(values))
    if args.val_split is not None:
        base["val_split"] = args.val_split
    seeds = list(args.seeds) if args.seeds else None
    if args.reproduce:
        return reproduction_spec(args.name or REPRODUCTION, seeds, base)
    if args.file:
        from core.experiments.spec import MAX_DEFINITION_BYTES
        from core.fileio import read_untrusted

        try:  # checked for kind and size before a byte is read: /dev/zero, a FIFO, 10 GB
            text = read_untrusted(Path(args.file), MAX_DEFINITION_BYTES,
                                  follow_links=True).decode("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            reason = "it is not UTF-8 text" if isinstance(e, UnicodeDecodeError) else \
                (e.strerror or str(e))
            raise ConfigError(f"Cannot read the experiment file {cell(args.file)}: "
                              f"{reason}.") from None
        spec = ExperimentSpec.from_toml(text)
        if args.name and args.name != spec.name:
            raise ConfigError(f"{args.file} defines experiment '{spec.name}', not "
                              f"'{args.name}': leave the name out or change the file.")
    else:
        if not args.name:
            raise ConfigError("Name the experiment: `digitlab-cli experiment run NAME ...`.")
        spec = ExperimentSpec(name=args.name)
    if args.model:
        spec.model = args.model
    if args.writeup_recipe:
        spec.writeup_recipe = True
    if seeds:
        spec.seeds = seeds
    spec.base.update(base)
    for item in args.variants:
        name, sep, settings = item.partition(":")
        overrides: dict[str, Any] = {}
        for pair in filter(None, (s.strip() for s in settings.split(","))):
            key, values = _key_values(pair, "--variant setting")
            overrides[key] = values[0]
        if not sep or not name.strip():
            raise ConfigError(f"--variant '{item}' must look like NAME:KEY=VALUE,KEY=VALUE.")
        spec.variants[name.strip()] = overrides
    search = spec.search
    if args.search:
        search.kind = args.search
    for item in args.grids + args.choices:
        key, values = _key_values(item, "--grid/--choice")
        search.space[key] = values
    for item in args.ranges:
        key, values = _key_values(item, "--range")
        parts = values[0].split(":")
        try:
            search.space[key] = Range(float(parts[0]), float(parts[1]),
                                      len(parts) > 2 and parts[2] == "log")
        except (ValueError, IndexError):
            raise ConfigError(f"--range '{item}' must look like KEY=LOW:HIGH or "
                              f"KEY=LOW:HIGH:log.") from None
    if args.n_trials is not None:
        search.n_trials = args.n_trials
    if args.sampler_seed is not None:
        search.sampler_seed = args.sampler_seed
    if args.objective:
        spec.objective = args.objective
    if args.description:
        spec.description = args.description
    if args.asha:
        spec.asha = AshaSpec(args.grace_period, args.reduction_factor)
    # Flags come as text: give every setting TrainConfig's type now, so the saved definition
    # and a resumed one compare equal.
    spec.variants = {n: {k: coerce(k, v) for k, v in o.items()} for n, o in spec.variants.items()}
    spec.validate()
    return spec


class ExperimentPrinter(ExperimentReporter):
    """One line per trial event on stdout, with the experiment's overall progress."""

    def __init__(self, total: int, done: int) -> None:
        self.total, self.done, self.failed = total, done, 0
        self.epochs: dict[str, int] = {}

    def status(self, text: str) -> None:
        print(cell(text), file=sys.stderr, flush=True)

    def trial_started(self, key: str, info: StartInfo) -> None:
        resumed = f", resuming after epoch {info.start_epoch}" if info.start_epoch else ""
        self.epochs[key] = info.epochs
        print(f"{key}: training {cell(info.model)} on {cell(info.device)}, "
              f"{plural(info.epochs, 'epoch')}{resumed} (run {cell(info.run_id)})", flush=True)

    def trial_epoch(self, key: str, metrics: EpochMetrics) -> None:
        m = metrics
        val = f"  val {m.val_acc:.2f}%" if m.val_acc is not None else ""
        of = f"/{self.epochs[key]}" if key in self.epochs else ""
        print(f"{key}: epoch {m.epoch}{of}  test {m.test_acc:.2f}%{val}  {m.seconds:.1f} s",
              flush=True)

    def trial_finished(self, outcome: TrialOutcome) -> None:
        self.done += 1
        self.failed += outcome.status == "failed"
        last = outcome.history[-1] if outcome.history else None
        figures = f", final test {last['test_acc']:.2f}%" if last else ""
        if last and last.get("val_acc") is not None:
            figures += f", val {last['val_acc']:.2f}%"
        error = f": {cell(outcome.error)}" if outcome.error else ""
        print(f"[{self.done}/{self.total} done{f', {self.failed} failed' if self.failed else ''}]"
              f" {outcome.key} {outcome.status}{figures}{error}", flush=True)


def _executor(args: argparse.Namespace, spec: Any, store: Any) -> Any:
    if args.ray:
        from core.experiments.ray_executor import LOCAL, RayExecutor, check_reachable

        if not args.ray.startswith(LOCAL):
            check_reachable(args.ray)  # before the experiment is saved or a trial is counted

        return RayExecutor(store.runs, args.ray, cpus_per_trial=args.cpus_per_trial,
                           max_failures=args.max_failures, asha=spec.asha,
                           objective=spec.objective)
    if spec.asha is not None:
        raise ConfigError("ASHA early stopping runs on the Ray executor: add --ray local (this "
                          "machine) or --ray ADDRESS.")
    from core.experiments.local import LocalExecutor

    return LocalExecutor(store.runs, parallel=args.parallel, threads=args.threads)


def cmd_run(args: argparse.Namespace) -> int:
    from core.experiments.runner import run_experiment
    from core.experiments.storage import ExperimentStore

    data_dir = str(Path(args.data).expanduser().resolve()) if args.data else ""
    store = ExperimentStore()
    if args.reproduce or args.name == "reproduction":  # its trials are records in the repo
        from core.cli.reproduction import cmd_run as run_reproduction
        from core.experiments.spec import ExperimentSpec

        return run_reproduction(args, _executor(args, ExperimentSpec(name="reproduction"),
                                                store))
    defining = any(getattr(args, k) for k in _DEFINING)
    if not defining and not args.name:
        raise ConfigError("Name the experiment to resume (`digitlab-cli experiment list`), or "
                          "define a new one: `digitlab-cli experiment run NAME --model ...`.")
    spec = spec_from_args(args) if defining else store.load(args.name)
    executor = _executor(args, spec, store)
    states = store.states(spec.name, seeds=spec.seeds) if store.exists(spec.name) else []
    done = sum(1 for s in states if s.finished)
    total = len(states) or spec.point_count() * len(spec.seeds)
    printer = ExperimentPrinter(total, done)
    try:
        outcome = run_experiment(spec, executor, store=store, reporter=printer,
                                 retry_failed=args.retry_failed, data_dir=data_dir)
    finally:
        close = getattr(executor, "close", None)
        if close:
            close()
    counts = {status: outcome.count(status) for status in
              ("completed", "early-stopped", "failed", "stopped", "interrupted", "pending")}
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    print(f"Experiment {spec.name}: {plural(len(outcome.states), 'trial')}: {summary}. "
          f"{outcome.trials_run} ran in {outcome.wall_s:.1f} s. "
          f"Report: digitlab-cli experiment report {spec.name}")
    failed = [s for s in outcome.states if s.status == "failed"]
    if failed:  # a clean failure the user can act on: exit 2 with one line saying which and why
        first = failed[0]
        reason = cell(first.run.error)[:300] if first.run is not None and first.run.error \
            else "no reason recorded"
        print(f"digitlab-cli: error: {len(failed)} of "
              f"{plural(len(outcome.states), 'trial')} failed "
              f"(first, {first.trial.key}: {reason}). Fix that, then `digitlab-cli experiment "
              f"run {spec.name} --retry-failed`.", file=sys.stderr)
        return 2
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from core.experiments.storage import ExperimentStore

    store = ExperimentStore()
    spec = store.load(args.name)
    states = store.states(spec.name, seeds=spec.seeds)
    rows = []
    for s in states:
        last = s.run.history[-1] if s.run is not None and s.run.history else {}
        planned = s.run.epochs_planned if s.run is not None else ""
        val = last.get("val_acc")
        rows.append([s.trial.key, cell(s.trial.point.label)[:40], str(s.trial.seed), s.status,
                     f"{s.run.epochs_done}/{planned}" if s.run is not None else "–",
                     f"{val:.2f}%" if val is not None else "–",
                     f"{last['test_acc']:.2f}%" if last else "–",
                     s.run.id if s.run is not None else "",
                     cell(s.run.error)[:60] if s.run is not None and s.run.error else ""])
    _table(rows, ["trial", "recipe", "seed", "status", "epochs", "final val", "final test",
                  "run", "reason"])
    finished = sum(1 for s in states if s.finished)
    failed = sum(1 for s in states if s.status == "failed")
    print(f"\n{finished} of {plural(len(states), 'trial')} finished"
          + (f", {failed} failed" if failed else "")
          + (f". Continue with: digitlab-cli experiment run {spec.name}"
             if finished + failed < len(states) else "."))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from core.experiments.storage import ExperimentStore

    store = ExperimentStore()
    names = store.names()
    if not names:
        print(f"No experiments yet in {store.root}. Start one with `digitlab-cli experiment run "
              f"NAME ...`.")
        return 0
    rows = []
    for name in names:
        try:
            spec = store.load(name)
            states = store.states(name, seeds=spec.seeds)
        except ConfigError as e:
            rows.append([name, "unreadable", "", cell(str(e))[:60]])
            continue
        finished = sum(1 for s in states if s.finished)
        rows.append([name, f"{finished}/{len(states)}", spec.search.kind,
                     cell(spec.description or spec.model)[:60]])
    _table(rows, ["experiment", "finished", "search", "about"])
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from core.experiments.storage import ExperimentStore

    removed = ExperimentStore().delete(args.name)
    print(f"Deleted experiment {args.name} and its {removed} trial run"
          f"{'' if removed == 1 else 's'}.")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from core.experiments.report_figures import links, sweep_insight, write_figures
    from core.experiments.statistics import markdown_report
    from core.experiments.storage import ExperimentStore

    store = ExperimentStore()
    spec = store.load(args.name)
    states = store.states(spec.name, seeds=spec.seeds)
    figures: dict[str, str] = {}
    if args.plots:  # the folder is the user's; the file names are fixed (NAME-curves.png, ...)
        folder = Path(args.plots)
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"--plots {args.plots} is a file: give a folder for the PNGs.")
        written = write_figures(spec, states, folder, spec.name)
        for path in written.values():
            print(f"Wrote {path}.", file=sys.stderr)
        figures = links(written, Path(args.output) if args.output else None)
    text = markdown_report(spec, states, store.sessions(spec.name), figures,
                           sweep_insight(spec, states))
    return _write_or_print(text, args.output)


def cmd_export(args: argparse.Namespace) -> int:
    from core.experiments.export import export_format, export_trials
    from core.experiments.storage import ExperimentStore

    output = Path(args.output)
    export_format(output)  # a wrong suffix is said before anything is read
    store = ExperimentStore()
    spec = store.load(args.name)
    states = store.states(spec.name, seeds=spec.seeds)
    rows = export_trials(spec, states, output)
    what = f"{rows} rows (one per trial and epoch)" if output.suffix.lower() == ".csv" else \
        plural(rows, "trial")
    print(f"Wrote {output}: {what} of experiment {spec.name}.")
    return 0


def _write_or_print(text: str, output: str | None) -> int:
    if output:
        from core.fileio import write_bytes_atomic

        write_bytes_atomic(Path(output), text.encode("utf-8"))
        print(f"Wrote {output}.")
    else:
        print(text, end="")
    return 0


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())


# --- the parser -------------------------------------------------------------------------------

def add_experiment_commands(sub: argparse._SubParsersAction) -> None:
    """`experiment` and its subcommands; also `--reproduction` on the existing `report`."""
    from core.experiments.spec import OBJECTIVES, SEARCH_KINDS

    top = sub.add_parser("experiment", help="run, resume and report experiments (seeds, sweeps)",
                         description=__doc__.split("\n\n")[0],
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         epilog=__doc__.split("\n\n", 1)[1])
    commands = top.add_subparsers(dest="experiment_command", required=True, metavar="ACTION")

    p = commands.add_parser("run", help="start or resume an experiment",
                            description="Start an experiment, or resume it: given only its name, "
                                        "the missing and unfinished trials run; finished ones "
                                        "are kept. Decisions use the validation split, never "
                                        "the test set.",
                            epilog=TOML_EXAMPLE,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", default="", help="experiment name (letters, digits, ._-)")
    what = p.add_argument_group("what to run")
    what.add_argument("--file", help="TOML definition (see core/experiments/spec.py); flags "
                                     "below change it")
    what.add_argument("--model", help="zoo model (default: the default model)")
    what.add_argument("--writeup-recipe", "--seed-recipe", dest="writeup_recipe",
                      action="store_true", help="start from the write-up's recipe")
    what.add_argument("--seeds", type=int, nargs="+", metavar="SEED", help="default: 0")
    what.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                      help="a training setting for every trial (repeatable)")
    what.add_argument("--variant", dest="variants", action="append", default=[],
                      metavar="NAME:KEY=V,KEY=V", help="a named recipe to compare (repeatable)")
    what.add_argument("--grid", dest="grids", action="append", default=[],
                      metavar="KEY=V1,V2", help="try every value (repeatable: all combinations)")
    what.add_argument("--search", choices=SEARCH_KINDS, help="grid (default), random or tpe "
                                                             "(Optuna: digitlab[search])")
    what.add_argument("--range", dest="ranges", action="append", default=[],
                      metavar="KEY=LOW:HIGH[:log]", help="a range to sample (random, tpe)")
    what.add_argument("--choice", dest="choices", action="append", default=[],
                      metavar="KEY=V1,V2", help="values to sample from (random, tpe)")
    what.add_argument("--n-trials", type=int, help="settings a random or TPE search samples")
    what.add_argument("--sampler-seed", type=int, help="seed of the search's sampler")
    what.add_argument("--val-split", type=int, help="hold out this many training images")
    what.add_argument("--objective", choices=OBJECTIVES, help="what choices use (default "
                                                               "val_acc)")
    what.add_argument("--description", help="one line saying what the experiment asks")
    what.add_argument("--reproduce", action="store_true",
                      help="every write-up model with its own recipe (docs/REPRODUCTION.md)")
    how = p.add_argument_group("where to run")
    how.add_argument("--parallel", type=int, default=1, metavar="N",
                     help="local: N trials at once on the CPU, cores split between them")
    how.add_argument("--threads", type=int, default=0, metavar="N",
                     help="local: torch threads per trial (default: all cores / N)")
    how.add_argument("--ray", metavar="ADDRESS",
                     help="run on Ray: auto (a cluster started with `ray start`), HOST:PORT, "
                          "or local[:CPUS] (a private instance here); needs digitlab[cluster]")
    how.add_argument("--cpus-per-trial", type=int, default=1, help="Ray: CPUs (and torch "
                                                                     "threads) per trial")
    how.add_argument("--max-failures", type=int, default=2,
                     help="Ray: retries of a trial whose worker dies (default 2)")
    how.add_argument("--asha", action="store_true", help="Ray: stop trailing trials early")
    how.add_argument("--grace-period", type=int, default=3, help="ASHA: epochs before stopping")
    how.add_argument("--reduction-factor", type=int, default=2, help="ASHA: keep 1/N per rung")
    how.add_argument("--retry-failed", action="store_true", help="run failed trials again")
    how.add_argument("--data", help="MNIST folder (default: DIGITLAB_DATA or the user folder)")
    from core.cli.reproduction import add_report_option, add_run_options

    add_run_options(how)
    p.set_defaults(handler=cmd_run)

    p = commands.add_parser("status", help="every trial: status, epochs, figures, run")
    p.add_argument("name")
    p.set_defaults(handler=cmd_status)

    p = commands.add_parser("list", help="experiments in the store")
    p.set_defaults(handler=cmd_list)

    p = commands.add_parser("delete", help="delete an experiment and its trial runs (a "
                                           "damaged one too)")
    p.add_argument("name")
    p.set_defaults(handler=cmd_delete)

    p = commands.add_parser("report", help="Markdown: per recipe mean ± std over seeds, "
                                           "differences with confidence intervals")
    p.add_argument("name")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.add_argument("--plots", metavar="DIR",
                   help="also write PNGs into DIR (NAME-curves.png: mean ± std over seeds; "
                        "NAME-sweep.png: parallel coordinates and setting importance) and link "
                        "them; needs digitlab[plots]")
    p.set_defaults(handler=cmd_report)

    p = commands.add_parser("export", help="the trials as CSV or JSON (config, seed, per-epoch "
                                           "figures) for pandas")
    p.add_argument("name")
    p.add_argument("-o", "--output", required=True, metavar="FILE.csv|FILE.json",
                   help="CSV: one row per trial and epoch; JSON: per trial config and history")
    p.set_defaults(handler=cmd_export)

    add_report_option(sub)  # `report --reproduction` (core/cli/reproduction.py)
