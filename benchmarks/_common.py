"""Shared bits of the benchmark scripts: machine description, result printing and recording.

Every benchmark ends with `emit(...)`: it prints a JSON line and a readable line, and appends
a record to benchmarks/records.jsonl carrying the figures with the commit, the machine, the date
and the exact command, so every figure can be traced to the code that produced it.
`scripts/results_tables.py` turns those records into the tables of benchmarks/RESULTS.md.
DIGITLAB_BENCH_RECORDS names another records file ("" records nothing: quick trial runs).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "date": datetime.now(UTC).date().isoformat()}


RECORDS = REPO / "benchmarks" / "records.jsonl"


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def provenance() -> dict[str, Any]:
    """Which code, where, when and how: what a record needs to be traced back."""
    now = datetime.now(UTC)
    script = Path(sys.argv[0]).resolve()
    # Local changes to tracked files, or a benchmark script the commit does not hold yet.
    status = _git("status", "--porcelain", "--untracked-files=no")
    if status is not None and script.is_relative_to(REPO):
        status += _git("status", "--porcelain", "--", str(script)) or ""
    info = machine()
    # A short name for the tables (RESULTS.md describes the named machines); else the CPU.
    info["name"] = os.environ.get("DIGITLAB_MACHINE") or f"{info['cores']}-core {info['cpu']}"
    if hasattr(os, "getloadavg"):
        info["load_avg_1min"] = round(os.getloadavg()[0], 2)  # was anything else running?
    shown = script.relative_to(REPO) if script.is_relative_to(REPO) else script
    return {"commit": _git("rev-parse", "HEAD"), "dirty": bool(status) if status is not None
            else None, "date": now.date().isoformat(), "time": now.isoformat(timespec="seconds"),
            "machine": info, "command": shlex.join(["python", str(shown), *sys.argv[1:]])}


def record(name: str, figures: dict[str, Any]) -> dict[str, Any]:
    """Append one record (one JSON line) to the records file and return it."""
    entry = {"benchmark": name, **provenance(), "figures": figures}
    target = os.environ.get("DIGITLAB_BENCH_RECORDS", str(RECORDS))
    if target:
        with open(target, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, default=str) + "\n")  # one write: lines never interleave
    return entry


def emit(name: str, figures: dict[str, Any], line: str) -> None:
    """One JSON object (machine-readable) and one readable line; the figures are recorded."""
    entry = record(name, figures)
    print(json.dumps({"benchmark": name, **figures, "machine": entry["machine"],
                      "commit": entry["commit"]}, default=str))
    print(line)


def budget_run(budget: float, seed: int, device: str, extra: list[str],
                 env: dict[str, str] | None = None) -> dict:
    """One `digitlab-cli train --time-budget` process, its whole wall time measured from outside:
    accuracy (validation too, with --val-split in `extra`) and what the run chose."""
    from core.runs.store import RunStore

    cmd = [sys.executable, "-m", "core.cli", "train", "--time-budget", f"{budget:g}",
           "--device", device, "--seed", str(seed), "--quiet", *extra]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[1:])} failed:\n{out.stderr[-2000:]}")
    run_id = re.search(r"Run: (\S+)", out.stdout)
    if run_id is None:
        raise SystemExit(f"no run id in the output of {' '.join(cmd[1:])}:\n{out.stdout}")
    record = RunStore().get(run_id.group(1)).record
    final = record.history[-1]
    chosen = record.env.get("time_budget", {})
    return {"budget_s": budget, "seed": seed, "model": record.model, "run": record.id,
            "wall_s": round(wall, 2), "test_acc": final["test_acc"],
            "val_acc": final.get("val_acc"),
            "steps": chosen.get("steps"), "epochs": round(chosen.get("epochs", 0.0), 3),
            "steps_per_s": round(chosen.get("final_steps_per_s", 0.0), 1),
            "startup_s": round(chosen.get("startup_s", 0.0), 2),
            "training_s": round(chosen.get("training_s", 0.0), 2),
            "evaluation_s": round(chosen.get("evaluation_s", 0.0), 2),
            "compile": chosen.get("compile", ""), "compile_s": chosen.get("compile_s", 0.0),
            "compiled_from_step": chosen.get("compiled_from_step", -1),
            "threads": chosen.get("threads"), "threads_step_ms": chosen.get("threads_step_ms"),
            "thread_trials": chosen.get("thread_trials"), "precision": chosen.get("precision"),
            "verdict": chosen.get("verdict", ""),
            "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2)}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class EagerBaseline:
    """The loop the seed write-ups ran, which the trainer is measured against: a torch Dataset
    with per-sample torchvision transforms (a random affine like DigitLab's augmentation at
    strength 1, then MNIST's normalisation), a DataLoader at batch 128 (shuffled), the eager
    model and SGD with momentum at a constant rate. Needs torch and torchvision."""

    def __init__(self, model_name: str, train_images: Any, train_labels: Any, test_images: Any,
                 test_labels: Any, device: str = "cpu", seed: int = 0, lr: float = 0.05) -> None:
        import torch
        from torch.utils.data import DataLoader, Dataset
        from torchvision import transforms

        from core.data.augment import ROTATION_AT_FULL_STRENGTH
        from core.data.mnist import MNIST_MEAN, MNIST_STD
        from core.models import build_model

        norm = transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))
        augment = transforms.Compose([
            transforms.RandomAffine(degrees=ROTATION_AT_FULL_STRENGTH, translate=(0.08, 0.08),
                                    scale=(0.92, 1.08), shear=6),
            transforms.ToTensor(), norm])
        plain = transforms.Compose([transforms.ToTensor(), norm])

        class Mnist(Dataset):
            def __init__(self, images: Any, labels: Any, transform: Any) -> None:
                self.images, self.labels, self.transform = images, labels, transform

            def __len__(self) -> int:
                return len(self.labels)

            def __getitem__(self, i: int) -> tuple[Any, int]:
                from PIL import Image

                return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])

        torch.manual_seed(seed)
        self.device = device
        self.train = DataLoader(Mnist(train_images, train_labels, augment), batch_size=128,
                                shuffle=True)
        self.test = DataLoader(Mnist(test_images, test_labels, plain), batch_size=1000)
        self.n_test = len(test_labels)
        self.model = build_model(model_name).to(device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr, momentum=0.9)

    def train_epoch(self) -> None:
        import torch.nn.functional as F

        self.model.train()
        for x, y in self.train:
            x, y = x.to(self.device), y.to(self.device)
            self.optimizer.zero_grad()
            F.cross_entropy(self.model(x), y).backward()
            self.optimizer.step()

    def test_accuracy(self) -> float:
        """% of the test digits read right."""
        import torch

        correct = 0
        self.model.eval()
        with torch.no_grad():
            for x, y in self.test:
                predicted = self.model(x.to(self.device)).argmax(1)
                correct += (predicted == y.to(self.device)).sum().item()
        return 100 * correct / self.n_test
