"""The reproduction's trial records: one JSON file per finished trial, kept in the repository.

    docs/reproduction/<model>-seed<N>.json            the budget the table answers with
    docs/reproduction/<model>-seed<N>-<budget>.json   any other budget (--set train_subset=...)
    docs/reproduction/plan.json                       benchmarks/bench_reproduction_plan.py

A record holds what the table needs and what anyone needs to trust it: the run's training
config, its history per epoch, final and best figures, the commit and machine it ran on, start
and end times and seconds. Records are written atomically the moment a trial finishes, so a
run killed at the end of a working day loses only the trial it was training, and a later
checkout (any machine) knows which trials are done without the run store they were trained in.

Records are read as untrusted files: size and kind checked before reading, every field checked,
a damaged one reported as damaged and never used. Nothing read from a record decides a path.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.fileio import read_untrusted, write_json_atomic
from core.runs.store import RunRecord
from core.training.metrics import history_problem

RECORD_FORMAT = "digitlab.reproduction-trial"
PLAN_FORMAT = "digitlab.reproduction-plan"
VERSION = 1
PLAN_FILE = "plan.json"
MAX_RECORD_BYTES = 4 * 1024 * 1024  # a 19-epoch history is ~10 kB; anything this big is not ours
STATUSES = ("completed", "failed")  # only finished trials are recorded
# The default reproduction settings: the write-ups trained on all of MNIST; DigitLab on the CPU.
DEFAULT_BASE: dict[str, Any] = {"device": "cpu"}
# Settings that change no figure (where the data lies, how often steps are logged, the ONNX
# export): a record trained with other values still answers for today's trial.
NOT_RESULTS = frozenset({"data_dir", "log_every", "tta_in_onnx"})
_REPO = Path(__file__).resolve().parents[2]


def default_folder() -> Path:
    """docs/reproduction/ of the checkout this code runs from; ConfigError where there is none
    (an installed package): then name a folder with --records."""
    docs = _REPO / "docs"
    if not docs.is_dir():
        raise ConfigError("This DigitLab is not a checkout (no docs/ folder beside core/): "
                          "name the records folder with --records DIR.")
    return docs / "reproduction"


def budget_tag(base: dict[str, Any]) -> str:
    """'' for the default settings, else the settings that differ, for file names:
    {"train_subset": 10000} → "train_subset10000". Only TrainConfig names and values of the
    checked types reach it; anything but letters, digits, '.' and '-' becomes '_'."""
    extra = {k: v for k, v in base.items() if DEFAULT_BASE.get(k, object()) != v}
    parts = [f"{key}{value}" for key, value in sorted(extra.items())]
    return re.sub(r"[^A-Za-z0-9.-]", "_", "-".join(parts))[:120]


def record_name(model: str, seed: int, tag: str = "") -> str:
    return f"{model}-seed{seed}{'-' + tag if tag else ''}.json"


@dataclass(frozen=True)
class TrialRecord:
    """One finished trial, as its record file says (every field checked by `read_record`)."""

    file: str  # the record's file name in its folder
    model: str
    seed: int
    status: str  # completed | failed
    error: str
    tag: str  # budget tag: '' = the default budget
    base: dict[str, Any]  # the reproduction's settings it ran with (beside the recipe)
    config: dict[str, Any]
    params: int
    history: list[dict[str, Any]]
    started: str
    ended: str
    commit: str
    machine: dict[str, Any]

    @property
    def test_accs(self) -> list[float]:
        return [float(m["test_acc"]) for m in self.history]

    @property
    def final_acc(self) -> float | None:
        return self.test_accs[-1] if self.history else None

    @property
    def best_acc(self) -> float | None:
        return max(self.test_accs) if self.history else None

    @property
    def last3(self) -> tuple[float, ...]:
        return tuple(self.test_accs[-3:])

    @property
    def seconds(self) -> float:
        return sum(float(m["seconds"]) for m in self.history)

    @property
    def epochs_planned(self) -> int:
        epochs = self.config.get("epochs", 0)
        return epochs if isinstance(epochs, int) else 0

    def figure(self, kind: str) -> float | None:
        """The figure a claim of `kind` is judged against: 'best' → the best epoch's test
        accuracy; 'final' and 'last logged' → the last epoch's."""
        return self.best_acc if kind == "best" else self.final_acc


def record_from_run(run: RunRecord, model: str, seed: int, base: dict[str, Any],
                    tag: str) -> dict[str, Any]:
    """A finished run of the run store as a record (plain JSON data)."""
    history = [dict(m) for m in run.history]
    accs = [float(m["test_acc"]) for m in history]
    best_epoch = accs.index(max(accs)) + 1 if accs else None
    config = {k: v for k, v in run.config.items() if k not in NOT_RESULTS}
    status = "completed" if run.effective_status == "completed" else "failed"
    return {
        "format": RECORD_FORMAT, "version": VERSION,
        "model": model, "seed": seed, "status": status, "error": run.error,
        "budget": {"tag": tag, "settings": dict(base)},
        "config": config, "params": run.params,
        "final": {"test_acc": accs[-1] if accs else None, "epoch": len(history),
                  "train_loss": history[-1]["train_loss"] if history else None,
                  "test_loss": history[-1]["test_loss"] if history else None},
        "best": {"test_acc": max(accs) if accs else None, "epoch": best_epoch},
        "last3": accs[-3:],
        "history": history,
        "started": run.created, "ended": run.updated or run.created,
        "seconds": round(sum(float(m["seconds"]) for m in history), 2),
        "wall_seconds": round(seconds_between(run.created, run.updated or run.created), 1),
        "commit": code_commit(),
        "machine": machine(run.env),
        "run_id": run.id,  # in the run store of the machine that trained it (informative)
    }


def write_record(folder: Path, data: dict[str, Any]) -> Path:
    path = Path(folder) / record_name(str(data["model"]), int(data["seed"]),
                                      str(data["budget"]["tag"]))
    write_json_atomic(path, data)
    return path


@dataclass(frozen=True)
class Records:
    """What a records folder holds: good records and, by file name, why others are unusable."""

    trials: list[TrialRecord]
    damaged: dict[str, str]

    def get(self, model: str, seed: int, tag: str = "") -> TrialRecord | None:
        return next((r for r in self.trials
                     if (r.model, r.seed, r.tag) == (model, seed, tag)), None)

    def of(self, model: str, tag: str = "") -> list[TrialRecord]:
        return sorted((r for r in self.trials if r.model == model and r.tag == tag),
                      key=lambda r: r.seed)


def read_records(folder: Path, models: list[str]) -> Records:
    """Every record in `folder` (plan.json and other files aside). A missing folder holds none."""
    trials, damaged = [], {}
    try:
        names = sorted(e.name for e in os.scandir(folder)
                       if e.name.endswith(".json") and e.name != PLAN_FILE)
    except FileNotFoundError:
        return Records([], {})
    except OSError as e:
        raise ConfigError(f"Cannot list the reproduction records in {folder}: "
                          f"{e.strerror or e}.") from None
    for name in names:
        try:
            trials.append(read_record(Path(folder) / name, models))
        except ConfigError as e:
            damaged[name] = str(e)
    return Records(trials, damaged)


def read_record(path: Path, models: list[str]) -> TrialRecord:
    """A record checked field by field; ConfigError naming what is wrong."""
    try:
        data = json.loads(read_untrusted(path, MAX_RECORD_BYTES))
    except (OSError, ValueError) as e:
        raise ConfigError(f"unreadable ({e})") from None
    if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
        raise ConfigError(f"not a reproduction record (no \"format\": \"{RECORD_FORMAT}\")")
    if data.get("version") != VERSION:
        raise ConfigError(f"record version {data.get('version')!r}; this DigitLab reads "
                          f"version {VERSION}")
    model, seed, status = data.get("model"), data.get("seed"), data.get("status")
    if model not in models:
        raise ConfigError(f"model {str(model)[:40]!r} is not a write-up model")
    if not _is_count(seed):
        raise ConfigError("'seed' must be a whole number ≥ 0")
    if status not in STATUSES:
        raise ConfigError(f"'status' must be one of {', '.join(STATUSES)}")
    budget = data.get("budget")
    if not (isinstance(budget, dict) and isinstance(budget.get("tag"), str)
            and isinstance(budget.get("settings"), dict)):
        raise ConfigError("'budget' must hold a 'tag' text and its 'settings'")
    tag = budget["tag"]
    if path.name != record_name(model, seed, tag):
        raise ConfigError(f"it holds {model} seed {seed}"
                          f"{' (' + tag + ')' if tag else ''}, not what its name says")
    problem = history_problem(data.get("history"))
    if problem:
        raise ConfigError(f"its history {problem}")
    if status == "completed" and not data["history"]:
        raise ConfigError("a completed trial with no epoch in its history")
    config, machine_info = data.get("config"), data.get("machine")
    if not isinstance(config, dict) or not isinstance(machine_info, dict):
        raise ConfigError("'config' and 'machine' must be objects")
    texts = {k: data.get(k) for k in ("error", "started", "ended", "commit")}
    if not all(isinstance(v, str) for v in texts.values()):
        raise ConfigError("'error', 'started', 'ended' and 'commit' must be texts")
    if not _is_count(data.get("params")):
        raise ConfigError("'params' must be a whole number ≥ 0")
    return TrialRecord(path.name, model, seed, status, texts["error"], tag,
                       dict(budget["settings"]), config, data["params"], data["history"],
                       texts["started"], texts["ended"], texts["commit"], machine_info)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31


def read_plan(folder: Path) -> dict[str, Any] | None:
    """plan.json (bench_reproduction_plan.py), checked; None when there is none. ConfigError
    when it is damaged."""
    path = Path(folder) / PLAN_FILE
    try:
        data = json.loads(read_untrusted(path, MAX_RECORD_BYTES))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise ConfigError(f"{PLAN_FILE} is unreadable ({e})") from None
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
        raise ConfigError(f"{PLAN_FILE} is not a reproduction plan")
    rows = data.get("models")
    if not isinstance(rows, list) or not all(_plan_row_ok(r) for r in rows):
        raise ConfigError(f"{PLAN_FILE}'s 'models' must list model, epochs, epoch_seconds, "
                          f"compile_seconds and estimated_hours")
    return data


def _plan_row_ok(row: Any) -> bool:
    return (isinstance(row, dict) and isinstance(row.get("model"), str)
            and _is_count(row.get("epochs"))
            and all(isinstance(row.get(k), int | float) and not isinstance(row.get(k), bool)
                    and math.isfinite(row[k]) and row[k] >= 0
                    for k in ("epoch_seconds", "compile_seconds", "estimated_hours")))


# --- provenance: which code, which machine ---------------------------------------------------

def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=_REPO, capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def code_commit() -> str:
    """The checkout's commit, '+local changes' when tracked files differ from it; '' outside
    a git checkout."""
    head = _git("rev-parse", "HEAD")
    if not head:
        return ""
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return head + (" +local changes" if dirty else "")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(env: dict[str, Any]) -> dict[str, Any]:
    """The machine facts a record keeps (no host name, no paths)."""
    kept = {k: env[k] for k in ("device", "threads", "executor", "compile", "torch",
                                "python", "digitlab", "platform") if k in env}
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "arch": platform.machine(), **kept}


def seconds_between(start: str, end: str) -> float:
    try:
        return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start))
                   .total_seconds())
    except (TypeError, ValueError):
        return 0.0


def commit_records(paths: list[Path], message: str, attempts: int = 5) -> str:
    """`git add` then `git commit` exactly these files (others' staged work is left as it is);
    returns '' when committed, else why not (the records stay written: commit them by hand)."""
    if not paths:
        return ""
    names = [str(p) for p in paths]
    reason = ""
    for attempt in range(attempts):
        try:
            subprocess.run(["git", "add", "--", *names], cwd=_REPO, capture_output=True,
                           text=True, check=True, timeout=60)
            subprocess.run(["git", "commit", "-q", "-m", message, "--", *names], cwd=_REPO,
                           capture_output=True, text=True, check=True, timeout=60)
            return ""
        except subprocess.CalledProcessError as e:
            reason = " ".join((e.stderr or e.stdout or "").split())[:200] or f"exit {e.returncode}"
            if "index.lock" not in reason:
                break
        except (OSError, subprocess.SubprocessError) as e:
            reason = str(e)[:200]
            break
        time.sleep(2 + 3 * attempt)  # another git command holds the index: wait, try again
    return reason
