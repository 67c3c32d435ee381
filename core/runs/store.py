"""The run store: one folder per run under `<home>/runs`, every file written atomically.

    runs/<id>/run.json            config, status, environment, per-epoch metrics, scores
    runs/<id>/steps.json          step losses and learning rates (the live curves, replayable)
    runs/<id>/checkpoints/last.pt state after the last completed epoch (resume from here)
    runs/<id>/checkpoints/best.pt state after the best epoch (validation accuracy when held out)

A run killed mid-epoch keeps "running" in run.json with a pid that no longer lives: it reads back
as "interrupted", and its last.pt is the last completed epoch, so it can be resumed.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import RunNotFoundError
from core.fileio import from_saved, write_json_atomic
from core.paths import runs_dir
from core.training.metrics import EpochMetrics, StepMetrics

FINAL_STATES = ("completed", "stopped", "failed", "interrupted")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate the process on Windows
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # QUERY_LIMITED_INFO
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class RunRecord:
    id: str
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
    pid: int = 0
    host: str = ""
    scores: dict[str, Any] = field(default_factory=dict)  # e.g. "my_digits": {...}
    # Set when the run is a trial of an experiment (core/experiments): {"name", "trial", ...}.
    experiment: dict[str, Any] | None = None

    @property
    def metrics(self) -> list[EpochMetrics]:
        return [EpochMetrics.from_dict(m) for m in self.history]

    @property
    def effective_status(self) -> str:
        """'running' only while the process that trains it is alive; else 'interrupted'."""
        if self.status == "running" and (self.host != socket.gethostname()
                                         or not _pid_alive(self.pid)):
            return "interrupted"
        return self.status

    @property
    def resumable(self) -> bool:
        return (self.effective_status in ("stopped", "interrupted", "failed")
                and 0 < self.epochs_done < int(self.config.get("epochs", 0)))


class Run:
    """A run's folder. Writes go through here so every file on disk is always whole."""

    def __init__(self, directory: Path, record: RunRecord) -> None:
        self.dir = directory
        self.record = record
        self._steps: list[dict[str, float]] = self._read_steps()

    @property
    def id(self) -> str:
        return self.record.id

    def checkpoint_path(self, kind: str = "best") -> Path:
        return self.dir / "checkpoints" / f"{kind}.pt"

    def save_record(self) -> None:
        self.record.updated = _now()
        write_json_atomic(self.dir / "run.json", asdict(self.record))

    def mark_running(self) -> None:
        self.record.status, self.record.pid = "running", os.getpid()
        self.record.host, self.record.error = socket.gethostname(), ""
        self.save_record()

    def mark(self, status: str, error: str = "") -> None:
        self.record.status, self.record.error = status, error
        self.save_record()

    def add_step(self, metrics: StepMetrics) -> None:
        self._steps.append({"step": metrics.step, "epoch": metrics.epoch,
                            "loss": metrics.loss, "lr": metrics.lr})

    @property
    def steps(self) -> list[dict[str, float]]:
        return list(self._steps)

    def save_epoch(self, metrics: EpochMetrics, state: dict[str, Any]) -> None:
        """Checkpoints first, then the record, so the record never names a missing epoch."""
        from core.training.checkpoints import save_checkpoint

        save_checkpoint(self.checkpoint_path("last"), state)
        if self._is_best(metrics):
            save_checkpoint(self.checkpoint_path("best"), state)
        # Steps of an epoch replayed after a resume replace the ones recorded before.
        self._steps = [s for s in self._steps if s["epoch"] <= metrics.epoch]
        write_json_atomic(self.dir / "steps.json", self._steps)
        self.record.history = [m for m in self.record.history if m["epoch"] < metrics.epoch]
        self.record.history.append(metrics.to_dict())
        self.record.epochs_done = metrics.epoch
        self.save_record()

    def _is_best(self, metrics: EpochMetrics) -> bool:
        def score(m: dict[str, Any] | EpochMetrics) -> float:
            d = m.to_dict() if isinstance(m, EpochMetrics) else m
            return d["val_acc"] if d.get("val_acc") is not None else d["test_acc"]

        earlier = [score(m) for m in self.record.history if m["epoch"] < metrics.epoch]
        return not earlier or score(metrics) >= max(earlier)

    def load_checkpoint(self, kind: str = "best", map_location: Any = "cpu") -> dict[str, Any]:
        from core.training.checkpoints import load_checkpoint

        return load_checkpoint(self.checkpoint_path(kind), map_location=map_location)

    def _read_steps(self) -> list[dict[str, float]]:
        try:
            return json.loads((self.dir / "steps.json").read_text())
        except (OSError, ValueError):
            return []


class RunStore:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root else runs_dir()

    def create(self, config: dict[str, Any], *, params: int = 0, receptive_field: int = 0,
               env: dict[str, Any] | None = None, name: str = "",
               experiment: dict[str, Any] | None = None) -> Run:
        model = str(config.get("model", "model"))
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{model}"
        self.root.mkdir(parents=True, exist_ok=True)
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
        directory = self.root / run_id
        (directory / "checkpoints").mkdir()
        record = RunRecord(id=run_id, name=name or run_id, model=model, config=config,
                           created=_now(), params=params, receptive_field=receptive_field,
                           env=env or environment(), experiment=experiment)
        run = Run(directory, record)
        run.save_record()
        return run

    def list(self) -> list[RunRecord]:
        """Every readable run, oldest first. Unreadable folders are skipped, not fatal."""
        records = []
        if not self.root.is_dir():
            return records
        for directory in sorted(self.root.iterdir()):
            record = self._read(directory)
            if record is not None:
                records.append(record)
        return sorted(records, key=lambda r: r.created)

    def get(self, key: str) -> Run:
        """A run by id, unique id prefix, or exact name."""
        records = self.list()
        for match in ([r for r in records if r.id == key], [r for r in records if r.name == key],
                      [r for r in records if r.id.startswith(key)]):
            if len(match) == 1:
                return Run(self.root / match[0].id, match[0])
            if len(match) > 1:
                raise RunNotFoundError(f"'{key}' matches {len(match)} runs "
                                       f"({', '.join(r.id for r in match[:4])}…): be more precise.")
        hint = f" Known runs: {', '.join(r.id for r in records[-3:])}." if records else ""
        raise RunNotFoundError(f"No run '{key}' in {self.root}. List them with "
                               f"`digitlab-cli runs`.{hint}")

    def rename(self, key: str, name: str) -> None:
        run = self.get(key)
        run.record.name = name.strip() or run.record.id
        run.save_record()

    def delete(self, key: str) -> None:
        run = self.get(key)
        if run.record.effective_status == "running":
            raise RunNotFoundError(f"Run {run.id} is still training; stop it before deleting.")
        shutil.rmtree(run.dir)

    def _read(self, directory: Path) -> RunRecord | None:
        try:
            data = json.loads((directory / "run.json").read_text())
            return from_saved(RunRecord, data)
        except (OSError, ValueError, TypeError):
            return None


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
