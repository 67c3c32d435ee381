"""Where an experiment lives, and which of the run store's runs are its trials.

    <home>/experiments/<name>/experiment.toml   its definition (what `experiment run` was given)
    <home>/experiments/<name>/points.json       the settings it tries (sampled ones too), in order
    <home>/experiments/<name>/sessions.json     each time it ran: executor, machine, wall time

The experiments folder sits beside the run store's folder, so an experiment is kept with its runs.
A trial's results are ordinary runs tagged {"name", "trial", ...} (RunRecord.experiment): the
run store stays the one owner of results, and a trial's state is read from its newest run.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import ConfigError, RunBusyError, StorageError
from core.experiments.spec import (
    MAX_DEFINITION_BYTES,
    ExperimentSpec,
    Point,
    Trial,
    check_name,
)
from core.fileio import read_untrusted, write_bytes_atomic, write_json_atomic
from core.runs.record import lock_is_held
from core.runs.store import RunRecord, RunStore

EARLY_STOPPED = "early-stopped"  # the error text of a run an ASHA scheduler stopped begins so
_MAX_FILE = 4 * 1024 * 1024  # an experiment's own files are small; anything larger is not ours
_TRASH_PREFIX = ".deleting-"  # an experiment folder being deleted: out of every listing at once


@dataclass(frozen=True)
class TrialState:
    """A trial and its newest run (None: never started)."""

    trial: Trial
    run: RunRecord | None

    @property
    def status(self) -> str:
        """pending | running | completed | early-stopped | stopped | interrupted | failed."""
        if self.run is None:
            return "pending"
        status = self.run.effective_status
        if status == "stopped" and self.run.error.startswith(EARLY_STOPPED):
            return EARLY_STOPPED
        return status

    @property
    def finished(self) -> bool:
        """Nothing more to do: completed, or stopped early on purpose by the search."""
        return self.status in ("completed", EARLY_STOPPED)

    def history_value(self, key: str) -> float | None:
        """`key` ("val_acc", "test_acc", ...) of the newest epoch, None when absent."""
        if self.run is None or not self.run.history:
            return None
        value = self.run.history[-1].get(key)
        return None if value is None else float(value)


class ExperimentStore:
    def __init__(self, runs: RunStore | None = None) -> None:
        self.runs = runs or RunStore()
        self.root = self.runs.root.parent / "experiments"

    def folder(self, name: str) -> Path:
        return self.root / check_name(name)

    def exists(self, name: str) -> bool:
        return (self.folder(name) / "experiment.toml").is_file()

    def names(self) -> list[str]:
        """Every experiment folder, damaged ones too (their `load` says what is wrong)."""
        try:
            entries = list(os.scandir(self.root))
        except OSError:
            return []
        return sorted(e.name for e in entries if _is_experiment_name(e.name)
                      and (e.is_dir(follow_symlinks=False) or e.is_symlink()))

    def load(self, name: str) -> ExperimentSpec:
        folder = self.folder(name)
        path = folder / "experiment.toml"
        if folder.is_symlink():
            raise ConfigError(f"Experiment '{name}' is a link to another folder; DigitLab does "
                              f"not follow it. Delete the link with `digitlab-cli experiment "
                              f"delete {name}`.")
        if not path.is_file():
            if folder.is_dir() or folder.is_symlink():
                raise ConfigError(f"Experiment '{name}' is damaged: its folder has no "
                                  f"experiment.toml. Delete it with `digitlab-cli experiment "
                                  f"delete {name}`.")
            known = ", ".join(self.names()) or "none yet"
            raise ConfigError(f"No experiment '{name}' (experiments: {known}). Start one with "
                              f"`digitlab-cli experiment run {name} ...`.")
        try:
            text = read_untrusted(path, _MAX_FILE).decode("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"Cannot read {path}: {e}.") from None
        spec = ExperimentSpec.from_toml(text)
        if spec.name != name:
            raise ConfigError(f"{path} names experiment '{spec.name}', not '{name}': rename the "
                              f"folder or the name inside it.")
        return spec

    def save(self, spec: ExperimentSpec) -> None:
        """Write a new experiment's definition; an existing one must be the same experiment."""
        spec.validate()
        if self.exists(spec.name):
            if self.load(spec.name).to_dict() != spec.to_dict():
                raise ConfigError(f"Experiment '{spec.name}' already exists with another "
                                  f"definition: resume it with `digitlab-cli experiment run "
                                  f"{spec.name}` alone, or choose a new name.")
            return
        text = spec.to_toml().encode("utf-8")
        if len(text) > MAX_DEFINITION_BYTES:  # it could not be read back: refuse it now
            raise ConfigError(f"The experiment's definition is {len(text):,} bytes; at most "
                              f"{MAX_DEFINITION_BYTES:,} are allowed. Shorten its texts.")
        write_bytes_atomic(self.folder(spec.name) / "experiment.toml", text)

    def delete(self, name: str) -> int:
        """Remove experiment `name`: its trial runs, then its folder; returns the runs removed.

        Its trial runs go too: they are tagged with the name only, so a new experiment of the
        same name would otherwise adopt them as its own trials. Refused (RunBusyError) while any
        trial is training; nothing is removed then. A folder that is a link loses the link only;
        a folder left without a readable definition (damaged) can be deleted all the same.
        """
        folder = self.folder(name)  # check_name: one plain name, never a path
        if not (folder.is_dir() or folder.is_symlink()):
            known = ", ".join(self.names()) or "none"
            raise ConfigError(f"No experiment '{name}' to delete (experiments: {known}).")
        runs = [r for records in self.trial_runs(name).values() for r in records]
        busy = [r.id for r in runs if lock_is_held(self.runs.root / r.id)]
        if busy:
            raise RunBusyError(f"Experiment '{name}' is running (trial run {busy[0]} is "
                               f"training): stop it before deleting.")
        for record in runs:
            self.runs.delete(record.id)
        if folder.is_symlink():
            folder.unlink()  # the link only, never what it points to
            return len(runs)
        trash = self.root / f"{_TRASH_PREFIX}{name}-{secrets.token_hex(4)}"
        try:
            os.rename(folder, trash)  # one rename takes it out of every listing
            shutil.rmtree(trash)
        except OSError as e:
            raise StorageError(f"Could not delete experiment '{name}' in {self.root}: "
                               f"{e.strerror or e}.") from e
        return len(runs)

    # --- points (the settings tried, sampled ones included, so a resume tries the same) ----

    def points(self, name: str) -> list[Point]:
        """The saved points; ConfigError (one line, what to do) when points.json is damaged."""
        data = self._read_json(name, "points.json", [])
        try:
            if not isinstance(data, list):
                raise ConfigError(f"it holds {type(data).__name__}, not a list of points")
            points = [Point.from_dict(p) for p in data]
            if [p.index for p in points] != list(range(len(points))):
                raise ConfigError("its points are not numbered 0, 1, 2, ... in order")
        except ConfigError as e:
            path = self.folder(name) / "points.json"
            raise ConfigError(f"Experiment '{name}' is damaged: {path} is not a list of points "
                              f"({str(e).rstrip('.')}). Delete that file to list its points "
                              f"again, or delete the experiment (`digitlab-cli experiment "
                              f"delete {name}`).") from None
        return points

    def save_points(self, name: str, points: list[Point]) -> None:
        write_json_atomic(self.folder(name) / "points.json", [p.to_dict() for p in points])

    # --- sessions: each `experiment run`, for wall times -----------------------------------

    def sessions(self, name: str) -> list[dict[str, Any]]:
        """Each recorded session; entries of the wrong shape are left out (a log, not a
        result: a damaged entry must not stop a report)."""
        data = self._read_json(name, "sessions.json", [])
        return [s for s in data if _is_session(s)] if isinstance(data, list) else []

    def add_session(self, name: str, session: dict[str, Any]) -> None:
        sessions = [s for s in self.sessions(name) if s.get("id") != session.get("id")]
        write_json_atomic(self.folder(name) / "sessions.json", [*sessions, session])

    # --- trials ----------------------------------------------------------------------------

    def trial_runs(self, name: str) -> dict[str, list[RunRecord]]:
        """Trial key → its runs, oldest first (a trial restarted from nothing has several)."""
        found: dict[str, list[RunRecord]] = {}
        for record in self.runs.list():
            tag = record.experiment
            if isinstance(tag, dict) and tag.get("name") == name and "trial" in tag:
                found.setdefault(str(tag["trial"]), []).append(record)
        return found

    def states(self, name: str, points: list[Point] | None = None,
               seeds: list[int] | None = None) -> list[TrialState]:
        """Every trial of the experiment in order, with its newest run."""
        if points is None:
            points = self.points(name)
        if seeds is None:
            seeds = self.load(name).seeds
        runs = self.trial_runs(name)
        states = []
        for point in points:
            for seed in seeds:
                trial = Trial(point, seed)
                records = runs.get(trial.key, [])
                states.append(TrialState(trial, records[-1] if records else None))
        return states

    def _read_json(self, name: str, file: str, default: Any) -> Any:
        path = self.folder(name) / file
        try:
            return json.loads(read_untrusted(path, _MAX_FILE))
        except FileNotFoundError:
            return default
        except (OSError, ValueError) as e:
            raise ConfigError(f"{path} is unreadable ({e}); delete it to start that part "
                              f"again.") from None


def _is_experiment_name(name: str) -> bool:
    try:
        check_name(name)
    except ConfigError:
        return False
    return True


def _is_session(entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    wall, ran = entry.get("wall_s", 0.0), entry.get("trials_run", 0)
    return (isinstance(wall, int | float) and not isinstance(wall, bool)
            and math.isfinite(wall) and wall >= 0
            and isinstance(ran, int) and not isinstance(ran, bool) and ran >= 0
            and all(isinstance(entry.get(k, ""), str)
                    for k in ("id", "started", "executor", "host")))


def new_session(executor: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"id": now.strftime("%Y%m%d-%H%M%S-%f"), "started": now.isoformat(timespec="seconds"),
            "executor": executor, "host": socket.gethostname(), "wall_s": 0.0, "trials_run": 0}
