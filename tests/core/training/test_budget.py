"""The time-budget planner on a simulated clock: it ends on time with the schedule completed."""

from __future__ import annotations

import itertools
import time

import pytest

from core.training.budget import (
    EXIT_SECONDS,
    StepBudget,
    TimeBudget,
    estimate_reserve,
    process_start_time,
    schedule_multiplier,
)
from core.training.config import TrainConfig, lr_multiplier


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def simulate(budget: TimeBudget, clock: FakeClock, step_seconds, max_steps: int = 10**6):
    """Run steps until the budget says stop; step_seconds(i) is the duration of step i."""
    lrs = []
    budget.begin()
    config = TrainConfig(schedule="onecycle")
    while not budget.finished and budget.steps < max_steps:
        clock.t += step_seconds(budget.steps)
        budget.step_done()
        lrs.append(schedule_multiplier(config, budget.progress))
    return lrs


def make(clock: FakeClock, budget_s: float = 30.0, startup_s: float = 5.0,
         n_eval: int = 10_000) -> TimeBudget:
    return TimeBudget(budget_s, clock.t - startup_s, steps_per_epoch=468, batch_size=128,
                      n_eval_images=n_eval, counted_from="process start", clock=clock)


def test_steady_rate_ends_at_the_deadline_with_the_schedule_done() -> None:
    clock = FakeClock()
    budget = make(clock)
    lrs = simulate(budget, clock, lambda i: 0.02)  # 50 steps/s
    rec = budget.end(evaluation_s=0.0)
    reserve = estimate_reserve(10_000, 50 * 128)
    assert rec.reserve_s == pytest.approx(reserve)
    # Training ends where the budget, less start-up and reserve, is used up: within one step.
    expected_steps = (30.0 - 5.0 - reserve) / 0.02
    assert abs(rec.steps - expected_steps) <= 2
    assert rec.ended_at_s == pytest.approx(30.0 - reserve, abs=0.03)
    assert rec.measured_steps_per_s == pytest.approx(50.0)
    assert rec.planned_epochs == pytest.approx(rec.planned_steps / 468)
    assert rec.epochs == pytest.approx(rec.steps / 468)
    assert budget.progress == 1.0
    assert lrs[-1] == pytest.approx(1 / 25 / 1e4, abs=1e-6)  # OneCycle's final value
    assert max(lrs) == pytest.approx(1.0, abs=1e-3)  # it went through its peak


def test_a_slowdown_midway_is_followed_and_still_ends_on_time() -> None:
    clock = FakeClock()
    budget = make(clock)
    # 50 steps/s, then another program takes the CPU: 4x slower from step 400 on.
    simulate(budget, clock, lambda i: 0.02 if i < 400 else 0.08)
    rec = budget.end()
    assert rec.ended_at_s <= 30.0 - rec.reserve_s + 0.6  # at most one re-plan interval late
    assert rec.ended_at_s >= 30.0 - rec.reserve_s - 0.6
    assert rec.final_steps_per_s == pytest.approx(12.5, rel=0.05)
    assert rec.steps < rec.planned_steps  # the first plan could not be kept
    assert budget.progress == 1.0


def test_the_schedule_never_jumps_when_the_plan_changes() -> None:
    clock = FakeClock()
    budget = make(clock)
    config = TrainConfig(schedule="cosine")
    budget.begin()
    previous, progress = 1.0, []
    while not budget.finished:
        clock.t += 0.02 if budget.steps < 300 else 0.05
        budget.step_done()
        progress.append(budget.progress)
        lr = schedule_multiplier(config, budget.progress)
        assert lr <= previous + 1e-12  # cosine only goes down
        previous = lr
    steps = [b - a for a, b in itertools.pairwise(progress)]
    # A bend, not a jump: no step moves the schedule by more than 1% (there are ~500 steps).
    assert min(steps) > 0 and max(steps) < 0.01


def test_a_pause_moves_the_deadline() -> None:
    clock = FakeClock()
    budget = make(clock)
    budget.begin()
    for _ in range(100):
        clock.t += 0.02
        budget.step_done()
    clock.t += 10.0  # the user paused for 10 s
    budget.step_done(paused_s=10.0)
    while not budget.finished:
        clock.t += 0.02
        budget.step_done()
    assert budget.end().ended_at_s == pytest.approx(40.0 - budget.record.reserve_s, abs=0.6)


def test_no_time_left_ends_at_once() -> None:
    clock = FakeClock()
    budget = make(clock, budget_s=6.0, startup_s=5.5)  # start-up ate the budget
    simulate(budget, clock, lambda i: 0.02)
    rec = budget.end()
    assert budget.finished and rec.steps == 1  # one step, no schedule to speak of
    assert rec.reserve_s == EXIT_SECONDS  # no rate was measured: the fixed part only


def test_process_start_is_before_now_and_recent() -> None:
    start = process_start_time()
    assert 0 <= time.time() - start < 3600  # this test process started within the hour


def test_process_start_is_the_process_s_not_the_import_s() -> None:
    """A process that waits 2 s before importing the budget module still dates its start to
    before the wait: the CLI's start-up (imports, MNIST) must count against its budget."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import time; time.sleep(2.0); from core.training.budget import process_start_time; "
            "print(time.time() - process_start_time())")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[3],
                         capture_output=True, text=True, check=True, timeout=120)
    assert float(out.stdout) >= 2.0


def test_time_up_ends_the_run_even_before_the_rate_is_measured() -> None:
    clock = FakeClock()
    budget = make(clock, budget_s=30.0, startup_s=27.0)  # 2 s left before the exit reserve
    simulate(budget, clock, lambda i: 1.0)  # a machine so busy that a step takes a second
    rec = budget.end()
    assert rec.steps <= 3 and rec.ended_at_s <= 30.0


def test_a_step_budget_is_the_plain_schedule_over_its_steps() -> None:
    """Recipes are compared at a fixed step count on the same progress-driven schedule: it
    must be exactly lr_multiplier over that many steps (so such comparisons transfer)."""
    config = TrainConfig(schedule="onecycle", pct_start=0.1)
    budget = StepBudget(200, steps_per_epoch=78, batch_size=128)
    budget.begin()
    lrs = []
    while not budget.finished:
        budget.step_done()
        lrs.append(schedule_multiplier(config, budget.progress))
    assert budget.steps == 200 and budget.end().epochs == pytest.approx(200 / 78)
    expected = [lr_multiplier(config, k, 200) for k in range(1, 201)]
    assert lrs == pytest.approx(expected, abs=1e-5)
