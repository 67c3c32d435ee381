"""`digitlab-cli experiment ...` end to end, in subprocesses, as a user runs it."""

from __future__ import annotations

import pytest

from tests.core.cli.test_cli import cli

TINY_FLAGS = ["--model", "dl-tiny-1k", "--set", "epochs=2", "--set", "train_subset=1000",
              "--set", "test_subset=500", "--set", "batch_size=50", "--set", "lr=0.1",
              "--set", "compile=false", "--set", "device=cpu", "--threads", "1"]


@pytest.mark.slow
def test_run_status_list_report_and_resume(mnist_dir) -> None:
    out = cli("experiment", "run", "cli-exp", *TINY_FLAGS, "--val-split", "200",
              "--variant", "A:augment=0", "--variant", "B:augment=0.3", check=False)
    assert out.returncode == 0, out.stderr
    assert "p000-s0: epoch 2/2" in out.stdout and "[2/2 done] p001-s0 completed" in out.stdout
    assert "Experiment cli-exp: 2 trials: 2 completed. 2 ran in" in out.stdout
    status = cli("experiment", "status", "cli-exp").stdout
    assert "p000-s0  A" in status and "completed  2/2" in status
    assert "2 of 2 trials finished." in status
    assert "cli-exp     2/2       grid" in cli("experiment", "list").stdout
    report = cli("experiment", "report", "cli-exp").stdout
    assert "| A (" in report and "| 1/1 |" in report  # the recipe says what it changes
    assert "too few seeds to tell (1 vs 1" in report
    again = cli("experiment", "run", "cli-exp").stdout  # resume: nothing left
    assert "0 ran in" in again
    changed = cli("experiment", "run", "cli-exp", *TINY_FLAGS, "--seeds", "0", "1", check=False)
    assert changed.returncode == 2 and "already exists with another definition" in changed.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["experiment", "run", "x", "--grid", "lr=fast"], "lr = 'fast' is not a float"),
    (["experiment", "run", "x", "--grid", "colour=red"], "not a training setting"),
    (["experiment", "run", "x", "--range", "lr=1:2", "--search", "random"], "n_trials"),
    (["experiment", "run", "x", "--variant", "novalue"], "must look like NAME:KEY=VALUE"),
    (["experiment", "run", "x", "--set", "lr"], "must look like KEY=VALUE"),
    (["experiment", "run", "x", "--asha", "--val-split", "100"], "ASHA early stopping runs "
                                                                 "on the Ray executor"),
    (["experiment", "run", "--model", "dl-tiny-1k"], "Name the experiment"),
    (["experiment", "run"], "Name the experiment to resume"),
    (["experiment", "status", "nope"], "No experiment 'nope'"),
    (["experiment", "run", "x", "--file", "/nonexistent.toml"], "Cannot read the experiment"),
    (["report", "--reproduction", "--records", "/nonexistent-records"],
     "No reproduction records folder"),
    (["experiment", "run", "--reproduce", "--model", "dl-tiny-1k"],
     "--model does not go with the reproduction"),
    (["experiment", "run", "--reproduce", "--set", "model=eva5-s4"], "--set model / seed"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    out = cli(*args, check=False)
    assert out.returncode == 2, out.stdout + out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
