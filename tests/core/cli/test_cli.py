"""digitlab-cli end to end, in subprocesses, as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

QUICK = ["--device", "cpu", "--train-subset", "1000", "--test-subset", "300",
         "--batch-size", "50", "--lr", "0.1"]


def cli(*args: str, check: bool = True, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "core.cli", *args], cwd=REPO, text=True,
                          capture_output=True, env={**os.environ, **(env or {})}, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_models_lists_the_zoo_with_budget_flags() -> None:
    out = cli("models").stdout
    lines = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert "7,604" in lines["dl-flagship-8k"] and lines["dl-flagship-8k"].rstrip().endswith("yes")
    assert "9,274" in lines["eva5-s4"] and lines["eva5-s4"].rstrip().endswith("no")
    assert len(lines) >= 20


def test_summary_prints_the_layer_table() -> None:
    out = cli("summary", "eva5-s4").stdout
    assert "9,274" in out and "Conv2d" in out


def test_user_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    for args, needle in [(("summary", "s6-model"), "Did you mean"),
                         (("train", "--model", "nope"), "Unknown model 'nope'"),
                         (("train", "--lr", "-1"), "learning rate must be positive"),
                         (("eval", "no-such-run"), "No run 'no-such-run'"),
                         (("check", str(tmp_path / "missing.onnx")), "missing.onnx")]:
        proc = cli(*args, check=False)
        assert proc.returncode == 2, (args, proc.stderr)
        assert needle in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_missing_data_without_network_is_a_clear_error(tmp_path: Path) -> None:
    proc = cli("train", "--epochs", "1", *QUICK, "--data", str(tmp_path / "empty"), check=False,
               env={"http_proxy": "http://127.0.0.1:9",
                    "https_proxy": "http://127.0.0.1:9"})
    assert proc.returncode == 2
    assert "Could not download" in proc.stderr and "DIGITLAB_DATA" in proc.stderr


def test_train_runs_eval_report(mnist_dir: Path, tmp_path: Path) -> None:
    out = cli("train", "--model", "dl-tiny-1k", "--epochs", "2", *QUICK, "--name", "quick").stdout
    assert "epoch  2" in out and "test loss" in out and "acc" in out
    runs = cli("runs").stdout
    assert "quick" in runs and "completed" in runs and "2/2" in runs

    report = json.loads(cli("eval", "quick", "--json").stdout)
    assert len(report["confusion"]) == 10 and sum(map(sum, report["confusion"])) == 10_000
    assert 0 < report["accuracy"] <= 100 and len(report["per_class"]) == 10
    # No validation split: the test set picked "best", so "last" is the default and "best",
    # when asked for, says who picked it.
    assert report["checkpoint"] == "last"
    assert report["checkpoint_label"] == "last checkpoint (epoch 2)"
    best = cli("eval", "quick", "--checkpoint", "best").stdout.splitlines()[0]
    assert "picked on test" in best and "optimistic" in best

    table = cli("report", "-o", str(tmp_path / "r.md")).stdout
    assert "Wrote" in table
    md = (tmp_path / "r.md").read_text()
    assert "| quick | dl-tiny-1k | 996 |" in md and "✅ (2)" in md


def _wait_for(predicate, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_run_killed_mid_run_is_interrupted_and_resumable(mnist_dir: Path,
                                                         digitlab_home: Path) -> None:
    from core.runs.store import RunStore

    cli("train", "--model", "dl-tiny-1k", "--epochs", "1", *QUICK, "--name", "bystander")
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "train", "--model", "dl-tiny-1k",
                             "--epochs", "4", *QUICK, "--name", "victim"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = RunStore()

    def victim_has_an_epoch() -> bool:
        return any(r.name == "victim" and r.epochs_done >= 1 for r in store.list())

    try:
        _wait_for(victim_has_an_epoch)
        os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up
        proc.wait(10)
    finally:
        proc.kill()
    victim = store.get("victim").record
    assert victim.effective_status == "interrupted" and victim.resumable
    assert store.get("bystander").record.status == "completed"
    store.get("victim").load_checkpoint("last")  # whole and loadable
    assert not list(digitlab_home.rglob("*.tmp"))  # no half-written file left visible

    out = cli("train", "--resume", "victim").stdout
    assert "resuming after epoch" in out
    record = store.get("victim").record
    assert record.status == "completed" and record.epochs_done == 4
    assert [m["epoch"] for m in record.history] == [1, 2, 3, 4]
