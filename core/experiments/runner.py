"""Running an experiment: what is left to do, through which executor, searches included.

Resuming is the same call as starting: trials that finished are left alone, a trial whose run was
stopped or interrupted after an epoch continues from its checkpoint, one that never got an epoch
starts again, and failed trials are tried again only when asked (`retry_failed`): their failure
stays recorded otherwise. Random searches sample their points once and keep them (points.json),
so a resumed search tries the same settings. TPE asks Optuna for new points in batches as the
earlier points finish, telling it each finished point's objective (the mean over its seeds).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from core.errors import ConfigError
from core.experiments.spec import ExperimentSpec, Point, Range
from core.experiments.storage import ExperimentStore, TrialState, new_session
from core.experiments.trial import (
    ExperimentReporter,
    TrialOutcome,
    TrialTask,
    delete_run_folder,
)
from core.jobs import Job
from core.text import plural
from core.training.control import TrainControl


class Executor(Protocol):
    name: str

    @property
    def slots(self) -> int:
        """How many trials it runs at once."""

    def run(self, tasks: list[TrialTask], reporter: ExperimentReporter,
            control: TrainControl) -> list[TrialOutcome]: ...


@dataclass(frozen=True)
class ExperimentOutcome:
    name: str
    states: list[TrialState]
    wall_s: float  # this session
    trials_run: int  # this session

    def count(self, status: str) -> int:
        return sum(1 for s in self.states if s.status == status)

    @property
    def finished(self) -> int:
        return sum(1 for s in self.states if s.finished)


def run_experiment(spec: ExperimentSpec, executor: Executor, *,
                   store: ExperimentStore | None = None,
                   reporter: ExperimentReporter | None = None,
                   control: TrainControl | None = None,
                   retry_failed: bool = False, data_dir: str = "") -> ExperimentOutcome:
    """Run (or resume) `spec` until every trial has finished, failed, or a stop is asked for.

    `data_dir` is the MNIST folder on this machine (default: DIGITLAB_DATA or the user's). It is
    not part of the experiment's definition: the same experiment runs on other machines."""
    store = store or ExperimentStore()
    reporter = reporter or ExperimentReporter()
    control = control or TrainControl()
    spec.validate()
    is_new = not (store.folder(spec.name).is_dir() or store.folder(spec.name).is_symlink())
    try:
        store.save(spec)
        points = _known_points(spec, store)
    except BaseException:
        if is_new and store.folder(spec.name).is_dir():
            store.delete(spec.name)  # a definition refused before any trial ran leaves nothing
        raise
    session = new_session(executor.name)
    t0, ran = time.perf_counter(), 0
    attempted: set[str] = set()  # each trial runs at most once per session: no retry loops
    try:
        while not control.stop_requested:
            tasks = [t for t in _tasks(spec, store, points, retry_failed, data_dir)
                     if t.key not in attempted]
            if tasks:
                attempted.update(t.key for t in tasks)
                reporter.status(f"{spec.name}: {plural(len(tasks), 'trial')} to run on "
                                f"{executor.name}.")
                ran += len(executor.run(tasks, reporter, control))
                continue
            if spec.search.kind != "tpe" or len(points) >= spec.search.n_trials:
                break
            batch = min(spec.search.n_trials - len(points),
                        max(1, executor.slots // len(spec.seeds)))
            points = points + _ask_tpe(spec, store, points, batch)
            store.save_points(spec.name, points)
    finally:
        session["wall_s"] = round(time.perf_counter() - t0, 2)
        session["trials_run"] = ran
        if ran:  # a resume with nothing left to do is not a session worth a line
            store.add_session(spec.name, session)
    return ExperimentOutcome(spec.name, store.states(spec.name, points, spec.seeds),
                             session["wall_s"], ran)


def _known_points(spec: ExperimentSpec, store: ExperimentStore) -> list[Point]:
    saved = store.points(spec.name)
    if saved:
        return saved
    if spec.search.kind == "grid":
        points = spec.grid_points()
    elif spec.search.kind == "random":
        points = _sample_random(spec)
    else:
        points = []  # TPE asks as it goes
    _check_trials(spec, points)
    store.save_points(spec.name, points)
    return points


def _check_trials(spec: ExperimentSpec, points: list[Point]) -> None:
    """Every trial's settings are valid, and a choosing experiment has a validation split:
    refused before anything runs."""
    for point in points or [Point(0, "", {})]:
        for seed in spec.seeds:
            config = spec.trial_config(point, seed)
            if spec.chooses and config.val_split <= 0:
                raise ConfigError(f"Experiment '{spec.name}' chooses by {spec.objective}: give it "
                                  f"a validation split (e.g. --val-split 10000). The test set is "
                                  f"never used to choose.")


def _tasks(spec: ExperimentSpec, store: ExperimentStore, points: list[Point],
           retry_failed: bool, data_dir: str = "") -> list[TrialTask]:
    tasks = []
    for state in store.states(spec.name, points, spec.seeds):
        status = state.status
        if state.finished or status == "running" or (status == "failed" and not retry_failed):
            continue
        resume = ""
        if state.run is not None:
            if state.run.resumable:
                resume = state.run.id
            elif state.run.epochs_done == 0 and status != "failed":
                delete_run_folder(store.runs, state.run.id)  # died before its first epoch
        point, seed = state.trial.point, state.trial.seed
        config = spec.trial_config(point, seed).with_overrides(data_dir=data_dir)
        tasks.append(TrialTask(
            experiment=spec.name, key=state.trial.key, point_index=point.index,
            label=point.label, variant=point.variant, values=dict(point.values), seed=seed,
            config=config.to_dict(), run_name=f"{spec.name}: {point.label} · seed {seed}",
            resume_run_id=resume))
    # Seed by seed: every recipe's first seed before any recipe's second, so an experiment
    # stopped early still compares its recipes on the same seeds.
    order = {seed: i for i, seed in enumerate(spec.seeds)}
    return sorted(tasks, key=lambda task: (order[task.seed], task.point_index))


# --- as a background job (a core.jobs.Job `state`: progress, partial results, stop) ---------

class _StateReporter(ExperimentReporter):
    """Trial events as the job's partial results: ("started", key, StartInfo),
    ("epoch", key, EpochMetrics), ("finished", key, TrialOutcome); status lines as progress."""

    def __init__(self, state: Job) -> None:
        self.state = state

    def status(self, text: str) -> None:
        self.state.set_progress(text)

    def trial_started(self, key: str, info: Any) -> None:
        self.state.set_partial_result(("started", key, info))

    def trial_epoch(self, key: str, metrics: Any) -> None:
        self.state.set_partial_result(("epoch", key, metrics))

    def trial_finished(self, outcome: TrialOutcome) -> None:
        self.state.set_partial_result(("finished", outcome.key, outcome))


class _StateControl(TrainControl):
    """Stops the running trial (between batches) once the job is asked to end."""

    def __init__(self, state: Job) -> None:
        super().__init__()
        self._state = state

    @property
    def stop_requested(self) -> bool:
        return super().stop_requested or self._state.is_interruption_requested()


def run_experiment_job(spec: ExperimentSpec, executor: Executor, *, state: Job,
                       store: ExperimentStore | None = None,
                       data_dir: str = "") -> ExperimentOutcome:
    """`run_experiment` for a background job reporting through `state` (core.jobs.Job: the app's
    JobState, or any stand-in in tests)."""
    return run_experiment(spec, executor, store=store, reporter=_StateReporter(state),
                          control=_StateControl(state), data_dir=data_dir)


# --- searches (Optuna, imported only for random and TPE) ------------------------------------

def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ConfigError("Random and TPE searches use Optuna, which is not installed: "
                          "pip install 'digitlab[search]' (or use a grid).") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _distributions(spec: ExperimentSpec) -> dict[str, Any]:
    from core.experiments.spec import settable_fields

    optuna = _optuna()
    kinds = settable_fields()
    out: dict[str, Any] = {}
    for key, values in spec.search.space.items():
        if isinstance(values, Range):
            if kinds[key] is int:
                out[key] = optuna.distributions.IntDistribution(
                    int(values.low), int(values.high), log=values.log)
            else:
                out[key] = optuna.distributions.FloatDistribution(
                    values.low, values.high, log=values.log)
        else:
            out[key] = optuna.distributions.CategoricalDistribution(list(values))
    return out


def _sample_random(spec: ExperimentSpec) -> list[Point]:
    optuna = _optuna()
    sampler = optuna.samplers.RandomSampler(seed=spec.search.sampler_seed)
    study = optuna.create_study(sampler=sampler)
    distributions = _distributions(spec)
    return [Point(i, "", dict(study.ask(distributions).params))
            for i in range(spec.search.n_trials)]


def point_objective(spec: ExperimentSpec, states: list[TrialState]) -> float | None:
    """A point's objective: the mean over its seeds' final `spec.objective`; None until every
    seed has one."""
    values = [s.history_value(spec.objective) for s in states]
    if not values or any(v is None for v in values):
        return None
    return sum(values) / len(values)  # type: ignore[arg-type]


def _ask_tpe(spec: ExperimentSpec, store: ExperimentStore, points: list[Point],
             batch: int) -> list[Point]:
    """`batch` new points from a TPE sampler told every finished point so far (rebuilt each
    time from the run store, so a resumed search continues from what is recorded)."""
    optuna = _optuna()
    distributions = _distributions(spec)
    direction = "maximize" if spec.objective == "val_acc" else "minimize"
    sampler = optuna.samplers.TPESampler(seed=spec.search.sampler_seed + len(points),
                                         constant_liar=batch > 1)
    study = optuna.create_study(direction=direction, sampler=sampler)
    states = store.states(spec.name, points, spec.seeds)
    for point in points:
        objective = point_objective(spec, [s for s in states if s.trial.point == point])
        study.add_trial(optuna.trial.create_trial(
            params=point.values, distributions=distributions, value=objective,
            state=(optuna.trial.TrialState.COMPLETE if objective is not None
                   else optuna.trial.TrialState.FAIL)))
    return [Point(len(points) + i, "", dict(study.ask(distributions).params))
            for i in range(batch)]
