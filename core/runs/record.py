"""A run's record as read from its folder: every field of run.json checked, or a `DamagedRun`
saying in one line what is wrong. Also the run lock's probe and the checkpoint files' checks.

A run *is* its folder: the record's id is the folder's name, never a field of run.json.
"Running" means a process holds the run's lock (`run.lock`, flock through filelock), nothing else:
a process killed even with kill -9 drops it, so its run reads back as "interrupted" whatever pid
it recorded and whoever owns that pid now.
"""

from __future__ import annotations

import json
import stat
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from core.fileio import read_untrusted
from core.runs.schema import RecordProblem, record_fields
from core.training.metrics import EpochMetrics

RUN_FILE = "run.json"
STEPS_FILE = "steps.json"
LOCK_FILE = "run.lock"
CHECKPOINTS = ("best", "last")
FINAL_STATES = ("completed", "stopped", "failed", "interrupted")
RESUMABLE_STATES = ("stopped", "interrupted", "failed")
MAX_RECORD_BYTES = 32 * 2**20  # a run.json of 15 epochs is ~10 KB
CREATING_GRACE_S = 30.0  # a folder without run.json younger than this may be being created


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_lock(folder: Path) -> Any:
    import filelock

    # thread_local=False: the GUI trains in a worker thread and may release from another one.
    return filelock.FileLock(str(folder / LOCK_FILE), thread_local=False)


def lock_is_held(folder: Path) -> bool:
    """Whether some process (this one included) holds the run's lock: it is training it."""
    import filelock

    path = Path(folder) / LOCK_FILE
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return False  # no lock file (never trained by this version) or not ours
    except OSError:
        return False
    probe = run_lock(Path(folder))
    try:
        probe.acquire(timeout=0)
    except filelock.Timeout:
        return True
    except OSError:
        return False  # unreadable lock: nobody can hold it either
    probe.release()
    return False


@dataclass
class RunRecord:
    """What run.json says about a run, every field checked (core/runs/schema.py)."""

    id: str  # the folder's name, always (what run.json says is ignored)
    name: str  # display name, renamable
    model: str
    config: dict[str, Any]
    created: str
    updated: str = ""
    status: str = "created"  # created | running | completed | stopped | failed | interrupted
    params: int = 0
    receptive_field: int = 0
    epochs_done: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)  # EpochMetrics dicts
    env: dict[str, Any] = field(default_factory=dict)  # versions, device, machine
    error: str = ""
    pid: int = 0  # informative only: liveness is the lock
    host: str = ""
    scores: dict[str, Any] = field(default_factory=dict)  # e.g. "my_digits": {...}
    # Set when the run is a trial of an experiment (core/experiments): {"name", "trial", ...}.
    experiment: dict[str, Any] | None = None
    # The epoch checkpoints/best.pt holds and the split that chose it (core/runs/best.py):
    # {"epoch": 7, "picked_on": "validation" | "test", "accuracy": 99.1}; {} before epoch 1.
    best: dict[str, Any] = field(default_factory=dict)

    _folder: ClassVar[Path | None] = None  # set per instance by the store; not saved
    damaged: ClassVar[str | None] = None  # healthy; see DamagedRun

    @property
    def metrics(self) -> list[EpochMetrics]:
        return [EpochMetrics.from_dict(m) for m in self.history]

    @property
    def epochs_planned(self) -> int:
        epochs = self.config.get("epochs", 0)
        return epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else 0

    @property
    def idle_status(self) -> str:
        """The status if no process is training it: a "running" one was interrupted."""
        return "interrupted" if self.status in ("running", "created") else self.status

    @property
    def effective_status(self) -> str:
        """'running' only while a process holds the run's lock; else what it was left as."""
        if (self.status in ("running", "created") and self._folder is not None
                and lock_is_held(self._folder)):
            return "running"
        return self.idle_status

    @property
    def resumable(self) -> bool:
        return self.effective_status in RESUMABLE_STATES and self.resume_problem() is None

    def resume_problem(self) -> str | None:
        """Why training cannot continue from where this run stopped (status aside), or None."""
        if self.epochs_done >= self.epochs_planned:
            return f"all {self.epochs_planned} planned epochs are done"
        if self.epochs_done > 0 and self._folder is not None:
            return checkpoint_problem(self._folder, "last")
        return None  # no epoch saved yet: resuming starts it from the beginning

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DamagedRun:
    """A folder in the store whose record cannot be used. It can be deleted, nothing else."""

    id: str  # the folder's name
    reason: str  # one line: what is wrong
    created: str  # the folder's modification time (ISO), for sorting among runs
    dir: Path

    name = property(lambda self: self.id)
    status = property(lambda self: "damaged")
    effective_status = property(lambda self: "damaged")
    resumable = property(lambda self: False)
    damaged = property(lambda self: self.reason)


def checkpoint_problem(folder: Path, which: str) -> str | None:
    """Why checkpoint `which` of the run in `folder` cannot be loaded, or None if it may be."""
    if which not in CHECKPOINTS:
        return f"there is no '{which}' checkpoint (only {' and '.join(CHECKPOINTS)})"
    checkpoints = folder / "checkpoints"
    path = checkpoints / f"{which}.pt"
    try:
        if not stat.S_ISDIR(checkpoints.lstat().st_mode):
            return "its checkpoints folder is not a plain folder"
        info = path.lstat()
    except FileNotFoundError:
        return f"it has no {which}.pt checkpoint: the run saved no epoch yet"
    except OSError as e:
        return f"its {which}.pt checkpoint cannot be read ({e.strerror})"
    if not stat.S_ISREG(info.st_mode):
        return f"its {which}.pt checkpoint is not a plain file"
    if info.st_size == 0:
        return f"its {which}.pt checkpoint is empty (0 bytes)"
    return None


def error_reason(error: BaseException) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON: {error.msg} at line {error.lineno}"
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(error, RecursionError):
        return "nested too deeply"
    text = str(error) if not isinstance(error, OSError) or not error.strerror else error.strerror
    return text.splitlines()[0][:200] if text.strip() else type(error).__name__


def read_record(directory: Path) -> RunRecord | DamagedRun | None:
    """The record of one folder, a DamagedRun saying what is wrong, or None (not a run)."""
    try:
        info = directory.lstat()
    except OSError:
        return None
    created = datetime.fromtimestamp(info.st_mtime, UTC).isoformat(timespec="seconds")

    def damaged(reason: str) -> DamagedRun:
        return DamagedRun(directory.name, reason, created, directory)

    if stat.S_ISLNK(info.st_mode):
        return damaged("the run folder is a link to somewhere else; DigitLab does not follow "
                       "it")
    if not stat.S_ISDIR(info.st_mode):
        return None  # a stray file in the store is not a run
    try:
        raw = read_untrusted(directory / RUN_FILE, MAX_RECORD_BYTES)
    except FileNotFoundError:
        # Being created right now: its creator holds the lock (taken right after the folder's
        # mkdir). A lock file nobody holds means the creator died (killed during the first
        # record write): damaged at once, so `runs` shows it and `delete` removes it. Only a
        # young folder without even a lock file may be in the microseconds before the lock.
        if lock_is_held(directory):
            return None
        young = time.time() - info.st_mtime < CREATING_GRACE_S
        if young and not (directory / LOCK_FILE).exists():
            return None
        return damaged("incomplete: it has no run.json (its creation was interrupted)")
    except OSError as e:
        return damaged(f"run.json cannot be read ({error_reason(e)})")
    try:
        data = json.loads(raw.decode("utf-8"))
        checked = record_fields(data)
    except RecordProblem as e:
        return damaged(str(e))
    except (ValueError, RecursionError) as e:
        return damaged(f"run.json is {error_reason(e)}")
    checked["name"] = checked.get("name") or directory.name
    record = RunRecord(id=directory.name, **checked)
    record._folder = directory  # type: ignore[misc]
    return record
