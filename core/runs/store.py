"""The run store: one folder per run under `<home>/runs`, every file written atomically.

    runs/<id>/run.json            config, status, environment, per-epoch metrics, scores
    runs/<id>/steps.json          step losses and learning rates (the live curves, replayable)
    runs/<id>/checkpoints/last.pt state after the last completed epoch (resume from here)
    runs/<id>/checkpoints/best.pt state after the best epoch: validation accuracy when held out,
                                  else test accuracy (labelled "picked on test", never the default)
    runs/<id>/run.lock            held (flock, via filelock) by the process training the run

Trust: a run folder may come from anywhere. A run *is* its folder: its id is the folder's name,
never a field of run.json, and every action (rename, delete, resume, export, scoring) works on
that folder only, after checking it lies directly inside the store and is not a link. Every field
of run.json is checked (core/runs/record.py, core/runs/schema.py); a folder whose record is
missing, truncated, not JSON or has a wrong field is listed as a `DamagedRun` saying what is
wrong, and can be deleted.

Liveness: "running" means the run's lock is held, nothing else (core/runs/record.py). The lock
also makes a second resume of the same run refuse at once instead of training over the first.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import (
    ConfigError,
    ModelFileError,
    RunBusyError,
    RunDamagedError,
    RunNotFoundError,
    StorageError,
)
from core.fileio import read_untrusted, remove_stale_temp_files, storage_error, write_json_atomic
from core.paths import runs_dir
from core.runs.best import best_after
from core.runs.record import (
    CHECKPOINTS,
    FINAL_STATES,
    LOCK_FILE,
    RESUMABLE_STATES,
    RUN_FILE,
    STEPS_FILE,
    DamagedRun,
    RunRecord,
    checkpoint_problem,
    error_reason,
    lock_is_held,
    read_record,
    run_lock,
)
from core.runs.schema import step_entries
from core.text import plural
from core.training.metrics import EpochMetrics, StepMetrics

MAX_STEPS_BYTES = 64 * 2**20
MAX_NAME_CHARS = 200
MAX_ERROR_CHARS = 2000
HOUSEKEEPING_EVERY_S = 300.0
_TRASH_PREFIX = ".deleting-"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Run:
    """A run's folder. Writes go through here so every file on disk is always whole."""

    def __init__(self, directory: Path, record: RunRecord) -> None:
        self.dir = Path(directory)
        record.id = self.dir.name  # the folder is the identity, whatever the file said
        record._folder = self.dir  # type: ignore[misc]  # instance attribute over the ClassVar
        self.record = record
        self._lock: Any = None
        self.steps_problem: str | None = None
        self._steps: list[dict[str, float]] = self._read_steps()

    @property
    def id(self) -> str:
        return self.dir.name

    # --- checkpoints ----------------------------------------------------------------------------

    # Which checkpoint is always said: the default (best only when validation picked it) is
    # resolved in one place, core.runs.best.resolve_checkpoint, by whoever asks.

    def checkpoint_path(self, kind: str) -> Path:
        if kind not in CHECKPOINTS:
            raise ConfigError(f"Unknown checkpoint '{kind}': use {' or '.join(CHECKPOINTS)}.")
        return self.dir / "checkpoints" / f"{kind}.pt"

    def has_checkpoint(self, which: str) -> bool:
        """Whether checkpoint `which` ("best" or "last") is there as a non-empty plain file."""
        return checkpoint_problem(self.dir, which) is None

    def load_checkpoint(self, kind: str, map_location: Any = "cpu") -> dict[str, Any]:
        from core.training.checkpoints import load_checkpoint

        problem = checkpoint_problem(self.dir, kind)
        if problem:
            advice = ("" if "no epoch" in problem else
                      " Use the other checkpoint of the run or train it again.")
            raise ModelFileError(f"Run {self.id}: {problem}.{advice}")
        return load_checkpoint(self.checkpoint_path(kind), map_location=map_location)

    # --- lock -----------------------------------------------------------------------------------

    def acquire_lock(self, wait_s: float = 0.0) -> None:
        """Hold the run's lock (while training it); RunBusyError if another holder has it."""
        import filelock

        if self.holds_lock:
            return
        lock = run_lock(self.dir)
        try:
            lock.acquire(timeout=wait_s)
        except filelock.Timeout:
            raise RunBusyError(f"Run {self.id} is being trained right now (by another process "
                               f"or window): wait until it ends, or stop it there.") from None
        except OSError as e:
            raise storage_error(e, self.dir / LOCK_FILE) from e
        self._lock = lock

    def release_lock(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            with contextlib.suppress(OSError):
                lock.release(force=True)

    @property
    def holds_lock(self) -> bool:
        return self._lock is not None and self._lock.is_locked

    # --- writing --------------------------------------------------------------------------------

    def save_record(self) -> None:
        self.record.id = self.dir.name
        self.record.updated = _now()
        write_json_atomic(self.dir / RUN_FILE, self.record.to_json())

    def note_env(self, key: str, value: Any) -> None:
        """Record a fact about how the run trains in `record.env` (saved with the next write)."""
        self.record.env[key] = value

    def mark_running(self) -> None:
        self.record.status, self.record.pid = "running", os.getpid()
        self.record.host, self.record.error = socket.gethostname(), ""
        self.save_record()

    def mark(self, status: str, error: str = "") -> None:
        """Record how the run ended; a final status also releases the run's lock."""
        self.record.status, self.record.error = status, str(error)[:MAX_ERROR_CHARS]
        try:
            self.save_record()
        finally:
            if status in FINAL_STATES:
                self.release_lock()

    def add_step(self, metrics: StepMetrics) -> None:
        self._steps.append({"step": metrics.step, "epoch": metrics.epoch,
                            "loss": metrics.loss, "lr": metrics.lr})

    @property
    def steps(self) -> list[dict[str, float]]:
        return list(self._steps)

    def save_epoch(self, metrics: EpochMetrics, state: dict[str, Any]) -> None:
        """Checkpoints first, then the record, so the record never names a missing epoch."""
        from core.training.checkpoints import save_checkpoint

        # "best" by validation accuracy, by test accuracy only without a validation split
        # (then labelled so, and never the default: core/runs/best.py).
        best = best_after(self.record.history, metrics.to_dict())
        save_checkpoint(self.checkpoint_path("last"), state)
        if best is not None:
            save_checkpoint(self.checkpoint_path("best"), state)
        # Steps of an epoch replayed after a resume replace the ones recorded before.
        self._steps = [s for s in self._steps if s["epoch"] <= metrics.epoch]
        write_json_atomic(self.dir / STEPS_FILE, self._steps)
        self.record.history = [m for m in self.record.history if m["epoch"] < metrics.epoch]
        self.record.history.append(metrics.to_dict())
        self.record.epochs_done = metrics.epoch
        if best is not None:
            self.record.best = best
        self.save_record()

    def _read_steps(self) -> list[dict[str, float]]:
        """The saved step curve; a missing or damaged steps.json gives [] (it is only a plot)."""
        try:
            data = json.loads(read_untrusted(self.dir / STEPS_FILE, MAX_STEPS_BYTES))
        except FileNotFoundError:
            return []
        except (OSError, ValueError, RecursionError) as e:
            self.steps_problem = f"steps.json is damaged ({error_reason(e)})"
            return []
        steps = step_entries(data)
        if not isinstance(data, list) or len(steps) != len(data):
            self.steps_problem = "steps.json holds entries that are not step metrics"
        return steps



def _folder_name(model: str) -> str:
    """A safe folder-name part from a model name: letters, digits, '.', '_', '-' only."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip(".-")[:60]
    return cleaned or "model"


class RunStore:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root else runs_dir()
        self._last_housekeeping = 0.0

    # --- creating -------------------------------------------------------------------------------

    def create(self, config: dict[str, Any], *, params: int = 0, receptive_field: int = 0,
               env: dict[str, Any] | None = None, name: str = "",
               experiment: dict[str, Any] | None = None) -> Run:
        """A new run folder, its record written, its lock held by the returned Run.
        `experiment` tags a trial of an experiment (core/experiments)."""
        model = str(config.get("model", "model"))
        base = f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{_folder_name(model)}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise storage_error(e, self.root / base) from e
        run_id, n = base, 1
        while True:
            # Claim the folder with one atomic mkdir: two trainings started in the same second
            # (GUI and CLI, or two CLI jobs) must never share a folder or fail on each other's.
            try:
                (self.root / run_id).mkdir()
                break
            except FileExistsError:
                n += 1
                run_id = f"{base}-{n}"
            except OSError as e:
                raise storage_error(e, self.root / run_id) from e
        directory = self.root / run_id
        record = RunRecord(id=run_id, name=(name.strip()[:MAX_NAME_CHARS] or run_id),
                           model=model, config=config, created=_now(), params=params,
                           receptive_field=receptive_field, env=env or environment(),
                           experiment=experiment, pid=os.getpid(), host=socket.gethostname())
        run = Run(directory, record)
        try:
            run.acquire_lock()
            (directory / "checkpoints").mkdir()
            run.save_record()
        except BaseException as e:
            # Nothing of the run exists yet but its folder: leave no half-made run behind.
            run.release_lock()
            shutil.rmtree(directory, ignore_errors=True)
            if isinstance(e, OSError) and not isinstance(e, StorageError):
                raise storage_error(e, directory / RUN_FILE) from e
            raise
        return run

    # --- reading --------------------------------------------------------------------------------

    def list_runs(self) -> list[RunRecord | DamagedRun]:
        """Every run folder, oldest first: healthy records and damaged ones (never fatal)."""
        entries: list[RunRecord | DamagedRun] = []
        try:
            names = sorted(os.listdir(self.root))
        except OSError:
            return entries
        housekeeping = time.monotonic() - self._last_housekeeping > HOUSEKEEPING_EVERY_S
        for name in names:
            directory = self.root / name
            if name.startswith("."):  # our temporary files and folders being deleted
                if housekeeping and name.startswith(_TRASH_PREFIX):
                    shutil.rmtree(directory, ignore_errors=True)
                continue
            entry = read_record(directory)
            if entry is not None:
                entries.append(entry)
            if housekeeping and isinstance(entry, RunRecord):
                remove_stale_temp_files(directory)
                remove_stale_temp_files(directory / "checkpoints")
        if housekeeping:
            remove_stale_temp_files(self.root)
            self._last_housekeeping = time.monotonic()
        return sorted(entries, key=lambda r: r.created)

    def list(self) -> list[RunRecord]:
        """Every healthy run, oldest first (damaged ones: `damaged()` or `list_runs()`)."""
        return [r for r in self.list_runs() if isinstance(r, RunRecord)]

    def damaged(self) -> list[DamagedRun]:
        return [r for r in self.list_runs() if isinstance(r, DamagedRun)]

    def find(self, key: str) -> RunRecord | DamagedRun:
        """A run, healthy or damaged, by folder name (id), exact name, or unique id prefix."""
        if not isinstance(key, str) or not key.strip():
            raise RunNotFoundError("Give a run id or name (see `digitlab-cli runs`).")
        entries = self.list_runs()
        for match in ([r for r in entries if r.id == key],
                      [r for r in entries if isinstance(r, RunRecord) and r.name == key],
                      [r for r in entries if r.id.startswith(key)]):
            if len(match) == 1:
                return match[0]
            if len(match) > 1:
                raise RunNotFoundError(f"'{key}' matches {len(match)} runs "
                                       f"({', '.join(r.id for r in match[:4])}…): be more precise.")
        hint = f" Known runs: {', '.join(r.id for r in entries[-3:])}." if entries else ""
        raise RunNotFoundError(f"No run '{key}' in {self.root}. List them with "
                               f"`digitlab-cli runs`.{hint}")

    def get(self, key: str) -> Run:
        """A healthy run by id, unique id prefix, or exact name."""
        entry = self.find(key)
        if isinstance(entry, DamagedRun):
            raise RunDamagedError(f"Run {entry.id} is damaged ({entry.reason}); it can only be "
                                  f"deleted (`digitlab-cli delete {entry.id}`).")
        return Run(self._folder(entry.id), entry)

    # --- changing -------------------------------------------------------------------------------

    def open_for_resume(self, key: str) -> Run:
        """The run `key`, locked for this process to continue training it.

        RunBusyError when another process or window is training it; ConfigError when there is
        nothing to resume. A run interrupted before its first epoch starts again from scratch.
        """
        run = self.get(key)
        run.acquire_lock()
        try:
            fresh = read_record(run.dir)  # re-read under the lock: it may have ended meanwhile
            if not isinstance(fresh, RunRecord):
                reason = fresh.reason if isinstance(fresh, DamagedRun) else "no run.json"
                raise RunDamagedError(f"Run {run.id} is damaged ({reason}).")
            status = fresh.idle_status
            problem = (fresh.resume_problem() if status in RESUMABLE_STATES
                       else f"it is {status}")
            if problem:
                raise ConfigError(f"Run {run.id} cannot be resumed: {problem} (after "
                                  f"{fresh.epochs_done} of "
                                  f"{plural(fresh.epochs_planned, 'epoch')}). Only "
                                  f"stopped, interrupted or failed runs with epochs left resume.")
        except BaseException:
            run.release_lock()
            raise
        resumed = Run(run.dir, fresh)
        resumed._lock, run._lock = run._lock, None  # the lock goes with the fresh record
        # Temporary files of writes killed midway: every writer of this run held its lock,
        # which is ours now, so none of them is alive.
        remove_stale_temp_files(run.dir, older_than_s=0)
        remove_stale_temp_files(run.dir / "checkpoints", older_than_s=0)
        return resumed

    def rename(self, key: str, name: str) -> None:
        run = self.get(key)
        try:
            run.acquire_lock()
        except RunBusyError:
            raise RunBusyError(f"Run {run.id} is training; rename it after its training "
                               f"ends.") from None
        try:
            run.record.name = name.strip()[:MAX_NAME_CHARS] or run.id
            run.save_record()
        finally:
            run.release_lock()

    def delete(self, key: str) -> None:
        """Remove a run's folder (healthy or damaged), never anything outside the store."""
        entry = self.find(key)
        directory = self._folder(entry.id)
        if directory.is_symlink():
            directory.unlink()  # the link only, never what it points to
            return
        if lock_is_held(directory):
            raise RunBusyError(f"Run {entry.id} is still training; stop it before deleting.")
        trash = self.root / f"{_TRASH_PREFIX}{entry.id}-{secrets.token_hex(4)}"
        try:
            # One rename takes the run out of every listing at once; then remove it at leisure.
            os.rename(directory, trash)
            shutil.rmtree(trash)
        except OSError as e:
            raise StorageError(f"Could not delete run {entry.id} in {self.root}: "
                               f"{e.strerror or e}.") from e

    # --- internals ------------------------------------------------------------------------------

    def _folder(self, run_id: str) -> Path:
        """The folder of run `run_id`: one plain name directly inside the store, nothing else."""
        if (not run_id or run_id in (".", "..") or "/" in run_id or "\\" in run_id
                or "\x00" in run_id or Path(run_id).name != run_id):
            raise RunNotFoundError(f"'{run_id}' is not a run folder name.")
        directory = self.root / run_id
        if not directory.is_symlink() and directory.resolve().parent != self.root.resolve():
            raise RunNotFoundError(f"Run folder '{run_id}' is not inside {self.root}.")
        return directory

def environment(device_name: str = "") -> dict[str, Any]:
    """Versions and machine facts recorded with every run."""
    from core import __version__

    env: dict[str, Any] = {"digitlab": __version__, "python": platform.python_version(),
                           "platform": platform.platform(), "cpu_count": os.cpu_count(),
                           "device": device_name}
    for module in ("torch", "torchvision", "onnxruntime"):
        mod = sys.modules.get(module)
        if mod is not None:
            env[module] = getattr(mod, "__version__", "")
    return env
