"""Training to a time budget on real MNIST subsets: ends on time, schedule done, all recorded."""

from __future__ import annotations

import time

import pytest
import torch
import torch._dynamo  # torch.optim imports it on first use (~2 s): not inside a timed run

from core.errors import ConfigError
from core.runs.store import RunStore
from core.training.budget import BudgetStart
from core.training.config import TrainConfig, lr_multiplier
from core.training.loop import train
from core.workflows.launch import new_run_config, start_training
from tests.core.training.test_loop import Recorder

# 4,000 images of batch 50 = 80 steps an epoch: a few seconds' budget spans several epochs.
TINY = dict(model="dl-dilated-1k", device="cpu", train_subset=4000, test_subset=500,
            batch_size=50, log_every=5, seed=0, compile=False, optimizer="adam", lr=0.01,
            augment=0.0, ema=False)


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on a machine shared with other jobs, two threads that wait for each
    other at every layer made steps ~10x slower (measured), swamping what these tests time."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_budget_ends_on_time_with_the_schedule_completed(mnist) -> None:
    config = TrainConfig(**TINY, time_budget=6.0)
    rec = Recorder()
    t0 = time.time()
    result = train(config, reporter=rec, data=mnist, budget_start=BudgetStart(t0, "test"))
    elapsed = time.time() - t0
    assert result.status == "completed"
    # Ends by the budget; a loaded machine may add a little after the last re-plan.
    assert elapsed <= 6.0 + 3.0, elapsed
    # The schedule ran to its end (OneCycle's last value is lr / 25 / 1e4), evaluated once.
    assert len(rec.epochs) == 1
    final = rec.epochs[0]
    assert final.lr == pytest.approx(config.lr * lr_multiplier(config, 10**6, 10**6), rel=1e-3)
    assert final.test_acc > 50.0  # it learned
    assert max(s.lr for s in rec.steps) > 0.5 * config.lr  # and went through its peak
    steps = rec.steps[-1].step
    assert steps > 20
    # The final epoch's number says in which epoch the budget ended.
    assert final.epoch == result.epochs_done == -(-steps // 80)


def test_the_run_records_the_budget_and_what_it_chose(mnist) -> None:
    config = TrainConfig(**TINY, time_budget=5.0)
    result = start_training(config, Recorder(), store=RunStore(),
                            budget_start=BudgetStart.now())
    record = RunStore().get(RunStore().list()[0].id).record
    chosen = record.env["time_budget"]
    assert chosen["budget_s"] == 5.0 and chosen["counted_from"] == "training start"
    assert chosen["threads"] >= 1  # trained on the CPU with this many torch threads
    assert chosen["measured_steps_per_s"] > 0 and chosen["planned_steps"] > 0
    assert chosen["steps"] > 0
    assert chosen["epochs"] == pytest.approx(chosen["steps"] / 80)
    assert chosen["ended_at_s"] <= 5.0 + 3.0
    assert record.config["time_budget"] == 5.0
    assert record.epochs_done == result.epochs_done


def test_start_up_counts_against_the_budget(mnist) -> None:
    """Counted from a start 3 s ago (a process's imports), a 5 s budget leaves ~2 s of work."""
    config = TrainConfig(**TINY, time_budget=5.0)
    t0 = time.time()
    train(config, data=mnist, budget_start=BudgetStart(t0 - 3.0, "process start"))
    assert time.time() - t0 <= 2.0 + 3.0


def test_the_cli_counts_its_budget_from_process_start(mnist_dir, tmp_path) -> None:
    """`digitlab-cli train --time-budget` counts the whole command: a process that spent 3 s
    before training records them as start-up, counted from process start."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, time; time.sleep(3.0); from core.cli.main import main; "
            "raise SystemExit(main(sys.argv[1:]))")
    args = ["train", "--time-budget", "12", "--model", "dl-tiny-1k", "--device", "cpu",
            "--train-subset", "1000", "--test-subset", "200", "--no-compile", "--quiet",
            "--data", str(mnist_dir)]
    env = {**os.environ, "DIGITLAB_HOME": str(tmp_path), "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-c", code, *args], cwd=Path(__file__).parents[3], env=env,
                   capture_output=True, text=True, check=True, timeout=300)
    (record,) = RunStore(tmp_path / "runs").list()
    chosen = record.env["time_budget"]
    assert chosen["counted_from"] == "process start"
    assert chosen["startup_s"] >= 3.0


def test_a_budget_run_cannot_be_resumed() -> None:
    with pytest.raises(ConfigError, match="time budget cannot be resumed"):
        train(TrainConfig(**TINY, time_budget=5.0), resume=True)


def test_a_bad_budget_is_refused_before_training() -> None:
    with pytest.raises(ConfigError, match="time budget must be between 0"):
        TrainConfig(time_budget=-1.0).validate()



def test_a_long_budget_keeps_augmenting_past_config_epochs(mnist, monkeypatch) -> None:
    """A budget run may go on past `config.epochs`: every batch of every pass the loop trains
    stays augmented (a fixed step budget of 4 passes over a 1-epoch config, watched at the
    loop's own call)."""
    import core.training.loop as loop
    from core.training.budget import StepBudget
    from core.training.control import TrainControl
    from core.training.state import build_state

    config = TrainConfig(**{**TINY, "augment": 0.5, "epochs": 1, "train_subset": 500},
                         time_budget=60.0)
    state = build_state(config, Recorder(), TrainControl(), None, mnist, resume=False)
    seen: list[tuple[int, bool]] = []
    real = loop.prepare_input

    def watched(images, augmentation, generator):  # type: ignore[no-untyped-def]
        seen.append((state.epochs_done, augmentation is not None and augmentation.warps))
        return real(images, augmentation, generator)

    monkeypatch.setattr(loop, "prepare_input", watched)
    spe = state.steps_per_epoch
    loop.train_to_budget(state, StepBudget(4 * spe, spe, config.batch_size))
    assert len(seen) == 4 * spe and {epoch for epoch, _ in seen} == {0, 1, 2, 3}
    assert all(warped for _, warped in seen)


def test_the_budget_recipe_applies_only_when_no_model_is_chosen() -> None:
    budget = new_run_config({"time_budget": 30.0}, device_type="cpu")
    plain = new_run_config({}, device_type="cpu")
    chosen = new_run_config({"time_budget": 30.0, "model": "dl-tiny-1k"}, device_type="cpu")
    assert budget.time_budget == 30.0 and budget.compile
    assert (budget.model, budget.augment) != (plain.model, plain.augment)
    assert chosen.model == "dl-tiny-1k"
    assert chosen.augment == new_run_config({"model": "dl-tiny-1k"}, device_type="cpu").augment
