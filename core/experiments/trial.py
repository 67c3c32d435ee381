"""One trial, run the same way by every executor: an ordinary training run, tagged, in a run store.

`run_trial` is what the local executor calls in its own process or in a worker process, and what a
Ray worker calls in a scratch store before its run folder is shipped back (`pack_run` /
`unpack_run`: the files travel as bytes, so workers need no disk shared with the driver).

Same seed, same numbers: a trial's results depend on its config and on the number of threads
torch uses for it (the order of floating-point sums in parallel kernels); both are recorded in
the run (config, env["threads"]), and two executors giving a trial the same thread count give
it the same figures.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.fileio import read_untrusted, write_bytes_atomic
from core.runs.store import Run, RunStore, environment
from core.training.control import Reporter, TrainControl
from core.training.metrics import EpochMetrics, StartInfo, StepMetrics

# The files of a run folder that travel between machines (core/runs/store.py's layout).
RUN_FILES = ("checkpoints/last.pt", "checkpoints/best.pt", "steps.json", "run.json")
_MAX_RUN_FILE = 1 << 30  # 1 GiB: far above any zoo model's checkpoint


@dataclass(frozen=True)
class TrialTask:
    """Everything a worker needs to run one trial (plain data: it is pickled to other processes
    and machines)."""

    experiment: str
    key: str  # trial key, e.g. "p002-s1"
    point_index: int
    label: str  # the point's label, e.g. "A · lr=0.02"
    variant: str
    values: dict[str, Any]
    seed: int
    config: dict[str, Any]  # the full TrainConfig
    run_name: str
    resume_run_id: str = ""  # continue this run (stopped / interrupted / failed) instead
    threads: int = 0  # torch threads for this trial; 0 = leave the process's setting
    executor: str = "local"

    def tag(self) -> dict[str, Any]:
        """What the run record carries (RunRecord.experiment)."""
        return {"name": self.experiment, "trial": self.key, "point": self.point_index,
                "label": self.label, "variant": self.variant, "values": dict(self.values),
                "seed": self.seed}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialTask:
        return cls(**data)


@dataclass
class TrialOutcome:
    key: str
    run_id: str
    status: str  # completed | stopped | early-stopped | failed | interrupted
    error: str = ""
    epochs_done: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)  # EpochMetrics dicts
    compile_seconds: float = 0.0  # spent compiling before epoch 1 (in no epoch's time)


class ExperimentReporter:
    """Hears how an experiment goes. Every method is a no-op here; override what you need.
    Calls come from the thread that runs the experiment (never from worker processes)."""

    def status(self, text: str) -> None:
        """A one-line description of what is happening now."""

    def trial_started(self, key: str, info: StartInfo) -> None:
        pass

    def trial_step(self, key: str, metrics: StepMetrics) -> None:
        pass

    def trial_epoch(self, key: str, metrics: EpochMetrics) -> None:
        pass

    def trial_finished(self, outcome: TrialOutcome) -> None:
        pass


class _TrialReporter(Reporter):
    """The trainer's Reporter for one trial: forwards to the experiment's, with the trial key."""

    def __init__(self, key: str, target: ExperimentReporter) -> None:
        self.key, self.target = key, target
        self.run_id = ""

    def status(self, text: str) -> None:
        self.target.status(f"{self.key}: {text}")

    def started(self, info: StartInfo) -> None:
        self.run_id = info.run_id
        self.target.trial_started(self.key, info)

    def step(self, metrics: StepMetrics) -> None:
        self.target.trial_step(self.key, metrics)

    def epoch(self, metrics: EpochMetrics) -> None:
        self.target.trial_epoch(self.key, metrics)


class _TaggedStore(RunStore):
    """A run store whose new runs carry the trial's tag and the executor's facts."""

    def __init__(self, root: Path, tag: dict[str, Any], env: dict[str, Any]) -> None:
        super().__init__(root)
        self.tag, self.extra_env = tag, env
        self.created: Run | None = None

    def create(self, config: dict[str, Any], **kwargs: Any) -> Run:
        env = {**environment(), **self.extra_env}
        kwargs.pop("experiment", None)
        kwargs.pop("env", None)
        self.created = super().create(config, env=env, experiment=self.tag, **kwargs)
        return self.created


def run_trial(task: TrialTask, store: RunStore, reporter: ExperimentReporter | None = None,
              control: TrainControl | None = None) -> TrialOutcome:
    """Train one trial into `store`. Never raises for the trial's own failure (bad setting,
    divergence, out of memory): the run is recorded as failed with the reason, and so is the
    outcome. KeyboardInterrupt still propagates (the run is then marked interrupted)."""
    import torch

    from core.training.config import TrainConfig
    from core.workflows.launch import start_training

    if task.threads:
        torch.set_num_threads(task.threads)
    tagged = _TaggedStore(store.root, task.tag(),
                          {"executor": task.executor, "threads": torch.get_num_threads()})
    adapter = _TrialReporter(task.key, reporter or ExperimentReporter())
    try:
        config = TrainConfig.from_dict(task.config)
        result = start_training(config, adapter, control, resume=task.resume_run_id or None,
                                name=task.run_name, store=tagged)
    except Exception as error:  # the trial's failure, recorded; the experiment goes on
        message = one_line(error)
        run_id = adapter.run_id or (tagged.created.id if tagged.created else "")
        if run_id:
            run = tagged.get(run_id)
            if run.record.status != "failed":
                run.mark("failed", message)
        else:  # failed before its run existed (e.g. a setting the trainer refused)
            run = tagged.create(dict(task.config), name=task.run_name)
            run.mark("failed", message)
            run_id = run.id
        history = tagged.get(run_id).record.history
        return TrialOutcome(task.key, run_id, "failed", message, len(history), history)
    run_id = adapter.run_id or (tagged.created.id if tagged.created else task.resume_run_id)
    return TrialOutcome(task.key, run_id, result.status, "", result.epochs_done,
                        [m.to_dict() for m in result.history], result.compile_seconds)


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "…"


# --- moving a run folder between machines as bytes ------------------------------------------

def pack_run(directory: Path) -> dict[str, bytes]:
    """The run folder's files (those that exist) as {relative path: bytes}."""
    files = {}
    for name in RUN_FILES:
        path = Path(directory) / name
        if path.is_file():
            files[name] = read_untrusted(path, _MAX_RUN_FILE)
    return files


def unpack_run(files: dict[str, bytes], store: RunStore) -> str:
    """Write a shipped run folder into `store`; returns its id there.

    The folder keeps its id when that id is free or already holds the same trial's run (a newer
    epoch of it replaces the older); otherwise it gets a free id. Checkpoints are written before
    the record, so the record never names an epoch whose checkpoint is missing. Only the known
    run files are accepted: a shipped name never decides a path."""
    unknown = set(files) - set(RUN_FILES)
    if unknown or "run.json" not in files:
        raise ConfigError(f"A shipped run must hold run.json and only {', '.join(RUN_FILES)}; "
                          f"got {', '.join(sorted(files))}.")
    try:
        record = json.loads(files["run.json"])
        run_id, tag = str(record["id"]), record.get("experiment")
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"A shipped run.json is unreadable ({e}).") from None
    store.root.mkdir(parents=True, exist_ok=True)
    target = _claim_folder(store, run_id, tag)
    if target.name != run_id:  # a different run already had this id here: take a free one
        record["id"] = target.name
        if record.get("name") == run_id:
            record["name"] = target.name
        files = {**files, "run.json": (json.dumps(record, indent=2) + "\n").encode()}
    (target / "checkpoints").mkdir(exist_ok=True)
    for name in RUN_FILES:  # run.json last
        if name in files:
            write_bytes_atomic(target / name, files[name])
    return target.name


def _claim_folder(store: RunStore, run_id: str, tag: Any) -> Path:
    from core.experiments.spec import check_name

    check_name(run_id, what="run id")  # a shipped id must be a plain folder name
    candidate, n = run_id, 1
    while True:
        folder = store.root / candidate
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            try:
                existing = json.loads(read_untrusted(folder / "run.json", _MAX_RUN_FILE))
            except (OSError, ValueError):
                existing = None
            if isinstance(existing, dict) and existing.get("id") == candidate \
                    and existing.get("experiment") == tag and tag is not None:
                return folder  # the same trial's run, shipped again after another epoch
            n += 1
            candidate = f"{run_id}-r{n}"


def delete_run_folder(store: RunStore, run_id: str) -> None:
    """Remove a run that holds nothing (a trial that died before its first epoch)."""
    store.delete(run_id)
