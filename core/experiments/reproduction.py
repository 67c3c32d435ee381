"""The reproduction experiment: every write-up model trained with its own recipe, recorded in
the repository trial by trial, so that the table (reproduction_table.py) is regenerated from
records any checkout has.

    digitlab-cli experiment run --reproduce [--commit-records]   start, or resume: only the
    digitlab-cli experiment run reproduction                      trials without a record run
    digitlab-cli report --reproduction -o docs/REPRODUCTION.md

The default is what the write-ups did: all 60,000 training images (a recipe's validation split,
Session-6's 10%, held out of them as it says), the full test set, each recipe's own epochs (15,
EVA5's 19), on the CPU. Seed 0 of every model first, cheapest first (multiply-adds of one image ×
epochs), so a run cut short still covers as many write-ups as it can; then seeds 1 and 2 of each
model whose seed-0 figure landed within CLOSE_TO_CLAIM of its claim, where one seed cannot tell
a reproduced claim from a missed one. `--seeds` names the seeds of every model instead.

Each finished trial (completed, or failed with its reason) is written at once to
docs/reproduction/<model>-seed<N>.json (reproduction_records.py). A trial whose record exists
is skipped, unless its settings differ from what its recipe gives today (then it runs again);
a trial interrupted mid-way continues from its last epoch when this machine's run store still
holds it. Other budgets (--set train_subset=10000) write records named with the budget and
never stand in the table's main columns.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.experiments.claims import claim_for
from core.experiments.reproduction_records import (
    DEFAULT_BASE,
    Records,
    budget_tag,
    commit_records,
    read_records,
    record_from_run,
    write_record,
)
from core.experiments.spec import ExperimentSpec
from core.experiments.storage import ExperimentStore
from core.experiments.trial import ExperimentReporter, TrialOutcome, TrialTask, delete_run_folder
from core.runs.store import RunRecord, RunStore
from core.training.config import TrainConfig
from core.training.control import TrainControl

REPRODUCTION = "reproduction"
MNIST_TRAIN = 60_000
MNIST_TEST = 10_000
CLOSE_TO_CLAIM = 0.3  # points: a seed-0 figure this near its claim gets EXTRA_SEEDS too
EXTRA_SEEDS = (1, 2)
# Settings that change no figure: a record trained with other values still answers for today's
# trial (compile: same numbers, core/training/speed.py; data_dir: where this machine keeps MNIST).
_NOT_COMPARED = frozenset({"data_dir", "log_every", "tta_in_onnx", "compile"})


def writeup_models() -> list[str]:
    from core.models import list_models

    return [spec.name for spec in list_models() if not spec.is_ours]


def training_cost(model: str) -> float:
    """Multiply-adds of one forward pass × the recipe's epochs: what orders the trials."""
    import torch

    from core.models import build_model, get_spec

    net = build_model(model).eval()
    macs = [0]

    def count(module: torch.nn.Module, _: object, out: torch.Tensor) -> None:
        if isinstance(module, torch.nn.Conv2d):
            macs[0] += module.weight.numel() * out.shape[2] * out.shape[3]
        elif isinstance(module, torch.nn.Linear):
            macs[0] += module.weight.numel()

    hooks = [m.register_forward_hook(count) for m in net.modules()]
    with torch.no_grad():
        net(torch.zeros(1, 1, 28, 28))
    for hook in hooks:
        hook.remove()
    return macs[0] * float(get_spec(model).recipe.get("epochs", 15))  # type: ignore[arg-type]


def reproduction_spec(name: str = REPRODUCTION, seeds: list[int] | None = None,
                      base: dict[str, Any] | None = None,
                      models: list[str] | None = None) -> ExperimentSpec:
    """Every write-up model (cheapest first) as one variant trained with `writeup_recipe`.
    When the training set is cut down (train_subset), a recipe's validation split is cut in the
    same proportion, so the model still trains on 90% of what it is given."""
    from core.models import get_spec

    base = dict(base or {})
    subset = int(base.get("train_subset", 0) or 0)
    variants: dict[str, dict[str, Any]] = {}
    for model in models or sorted(writeup_models(), key=training_cost):
        overrides: dict[str, Any] = {"model": model}
        val_split = int(get_spec(model).recipe.get("val_split", 0) or 0)  # type: ignore[call-overload]
        if subset and val_split and "val_split" not in base:
            overrides["val_split"] = max(1, round(val_split * subset / MNIST_TRAIN))
        variants[model] = overrides
    spec = ExperimentSpec(
        name=name, model=writeup_models()[0], writeup_recipe=True, seeds=seeds or [0],
        description="Every write-up model with its write-up's recipe, beside its claims.",
        base=base, variants=variants)
    spec.validate()
    return spec


def trial_config(model: str, seed: int, base: dict[str, Any]) -> TrainConfig:
    """The config a reproduction trial of `model` trains with today (its recipe, `base`)."""
    from core.errors import ConfigError

    spec = reproduction_spec(base=base, models=[model])
    try:
        return spec.trial_config(spec.grid_points()[0], seed)
    except ConfigError as e:
        raise ConfigError(f"{model}'s reproduction trial: {e}") from None


def changed_settings(recorded: dict[str, Any], today: TrainConfig) -> list[str]:
    """Settings (that change figures) in which a recorded config differs from `today`'s. A
    setting the record lacks (added to DigitLab since) counts as its default."""
    now = json.loads(json.dumps(today.to_dict()))  # tuples → lists, as the record has them
    defaults = json.loads(json.dumps(TrainConfig().to_dict()))
    return sorted(key for key, value in now.items() if key not in _NOT_COMPARED
                  and recorded.get(key, defaults.get(key)) != value)


def trial_seeds(model: str, records: Records, tag: str = "",
                seeds: list[int] | None = None) -> list[int]:
    """Seed 0; seeds 1 and 2 too once seed 0's figure is within CLOSE_TO_CLAIM of the claim
    (of the claim's kind: best or final). `seeds` given: exactly those."""
    if seeds:
        return list(seeds)
    first, claim = records.get(model, 0, tag), claim_for(model)
    if first is None or first.status != "completed" or claim is None or claim.accuracy is None:
        return [0]
    figure = first.figure(claim.accuracy_kind)
    close = figure is not None and abs(figure - claim.accuracy) <= CLOSE_TO_CLAIM + 1e-9
    return [0, *EXTRA_SEEDS] if close else [0]


@dataclass(frozen=True)
class PlannedTrial:
    model: str
    seed: int
    config: TrainConfig

    @property
    def key(self) -> str:
        return f"{self.model}-s{self.seed}"


def missing_trials(records: Records, base: dict[str, Any], order: list[str],
                   seeds: list[int] | None = None,
                   retry_failed: bool = False) -> list[PlannedTrial]:
    """Trials without a usable record, seed by seed, each seed's models in `order`. A record
    whose settings differ from today's recipe is not usable (the trial runs again); a failed
    trial's record is, unless `retry_failed`."""
    tag = budget_tag(base)
    todo = []
    for model in order:
        for seed in trial_seeds(model, records, tag, seeds):
            config = trial_config(model, seed, base)
            record = records.get(model, seed, tag)
            if record is not None and not changed_settings(record.config, config) \
                    and not (retry_failed and record.status == "failed"):
                continue
            todo.append(PlannedTrial(model, seed, config))
    rank = {model: i for i, model in enumerate(order)}
    return sorted(todo, key=lambda t: (t.seed, rank[t.model]))


@dataclass
class ReproductionOutcome:
    written: list[Path] = field(default_factory=list)  # records written this session
    trials_run: int = 0
    wall_s: float = 0.0
    left: list[str] = field(default_factory=list)  # trial keys still without a record
    failed: list[str] = field(default_factory=list)  # trial keys recorded as failed
    commit_problems: list[str] = field(default_factory=list)


class _RecordingReporter(ExperimentReporter):
    """Writes a trial's record the moment it finishes, then tells the caller's reporter."""

    def __init__(self, inner: ExperimentReporter, write: Any) -> None:
        self.inner, self.write = inner, write

    def status(self, text: str) -> None:
        self.inner.status(text)

    def trial_started(self, key: str, info: Any) -> None:
        self.inner.trial_started(key, info)

    def trial_step(self, key: str, metrics: Any) -> None:
        self.inner.trial_step(key, metrics)

    def trial_epoch(self, key: str, metrics: Any) -> None:
        self.inner.trial_epoch(key, metrics)

    def trial_finished(self, outcome: TrialOutcome) -> None:
        self.write(outcome.key)
        self.inner.trial_finished(outcome)


def run_reproduction(executor: Any, folder: Path, *, runs: RunStore | None = None,
                     base: dict[str, Any] | None = None, seeds: list[int] | None = None,
                     models: list[str] | None = None, name: str = REPRODUCTION,
                     reporter: ExperimentReporter | None = None,
                     control: TrainControl | None = None, retry_failed: bool = False,
                     data_dir: str = "", commit: bool = False) -> ReproductionOutcome:
    """Train the trials that have no record in `folder` until none is left or a stop is asked
    for; each finished trial's record is written as it finishes (and committed, with
    `commit`). `executor`: core.experiments.runner.Executor (local or Ray)."""
    base = {**DEFAULT_BASE, **(base or {})}
    tag = budget_tag(base)
    runs = runs or RunStore()
    tagged = ExperimentStore(runs)  # finds this machine's trial runs (resumes, lost records)
    reporter = reporter or ExperimentReporter()
    control = control or TrainControl()
    order = list(reproduction_spec(name, base=base, models=models).variants)  # cheapest first
    everyone = writeup_models()
    outcome, t0 = ReproductionOutcome(), time.perf_counter()
    planned: dict[str, PlannedTrial] = {}
    attempted: set[str] = set()  # each trial at most once per session: no retry loops
    recorded: set[str] = set()  # trials whose record this session wrote

    def write(key: str) -> None:
        trial = planned.get(key)
        run = _newest_run(tagged, name, trial) if trial and key not in recorded else None
        if trial is None or run is None or run.effective_status not in ("completed", "failed"):
            return  # stopped or interrupted: it continues from its checkpoint next time
        path = write_record(folder, record_from_run(run, trial.model, trial.seed, base, tag))
        recorded.add(key)
        outcome.written.append(path)
        if run.effective_status == "failed":
            outcome.failed.append(key)
        reporter.status(f"{key}: record written ({path.name}).")
        if commit:
            problem = commit_records([path], f"Reproduction record: {trial.model} seed "
                                             f"{trial.seed}{' (' + tag + ')' if tag else ''}")
            if problem:
                outcome.commit_problems.append(f"{path.name}: {problem}")
                reporter.status(f"{key}: not committed ({problem}); commit it by hand.")

    recording = _RecordingReporter(reporter, write)
    while not control.stop_requested:
        records = read_records(folder, everyone)
        todo = [t for t in missing_trials(records, base, order, seeds, retry_failed)
                if t.key not in attempted]
        if not todo:
            break
        tasks = []
        for trial in todo[:max(1, int(getattr(executor, "slots", 1)))]:
            attempted.add(trial.key)
            planned[trial.key] = trial
            task = _task(tagged, name, trial, data_dir, retry_failed)
            if task is None:  # finished in the run store, record missing: write it now
                write(trial.key)
            else:
                tasks.append(task)
        if tasks:
            reporter.status(f"{name}: {len(todo)} trial(s) without a record; running "
                            f"{', '.join(t.key for t in tasks)} on {executor.name}.")
            outcome.trials_run += len(executor.run(tasks, recording, control))
            for task in tasks:  # for executors that do not report each finish as it happens
                write(task.key)
    outcome.wall_s = round(time.perf_counter() - t0, 2)
    records = read_records(folder, everyone)
    outcome.left = [t.key for t in missing_trials(records, base, order, seeds, retry_failed)]
    return outcome


def _newest_run(store: ExperimentStore, name: str, trial: PlannedTrial) -> RunRecord | None:
    """This machine's newest run of the trial trained with the same settings, if any."""
    runs = [r for r in store.trial_runs(name).get(trial.key, [])
            if not changed_settings(r.config, trial.config)]
    return runs[-1] if runs else None


def _task(store: ExperimentStore, name: str, trial: PlannedTrial, data_dir: str,
          retry_failed: bool) -> TrialTask | None:
    """What to run for `trial`: a fresh run, or the resume of an interrupted one. None when
    the run store already holds it finished (completed, or failed and not to be retried)."""
    run = _newest_run(store, name, trial)
    resume = ""
    if run is not None:
        status = run.effective_status
        if status in ("completed", "running") or (status == "failed" and not retry_failed):
            return None  # running: another process trains it now
        if run.resumable:
            resume = run.id
        elif run.epochs_done == 0 and status not in ("failed", "running"):
            delete_run_folder(store.runs, run.id)  # died before its first epoch
    config = trial.config.with_overrides(data_dir=data_dir)
    return TrialTask(experiment=name, key=trial.key, point_index=0, label=trial.model,
                     variant=trial.model, values={}, seed=trial.seed, config=config.to_dict(),
                     run_name=f"{name}: {trial.model} · seed {trial.seed}",
                     resume_run_id=resume)
