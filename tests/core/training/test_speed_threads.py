"""Time-budget runs on the CPU choose their torch thread count by timing their first steps."""

from __future__ import annotations

import pytest
import torch

from core.training import speed
from core.training.budget import RETIME_THREADS_SECONDS, TimeBudget
from core.training.speed import choose_threads, threads_to_try
from core.training.thread_trial import SKIP_STEPS, ThreadTrial


def test_the_fastest_count_wins_and_a_near_tie_goes_to_fewer_threads() -> None:
    assert choose_threads({2: 0.040, 1: 0.065}) == 2  # idle machine: the second core pays
    assert choose_threads({2: 0.450, 1: 0.090}) == 1  # busy machine: threads wait for a core
    assert choose_threads({2: 0.060, 1: 0.062}) == 1  # within 5%: leave the core to others
    assert choose_threads({4: 0.02, 2: 0.03, 1: 0.05}) == 4


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def run_trial(step_seconds: dict[int, float], paused_steps: frozenset[int] = frozenset()
              ) -> tuple[ThreadTrial, list[int], int]:
    """Steps timed by the thread count in force: (trial, counts set in order, steps taken)."""
    clock, counts = FakeClock(), []
    current = {"n": 0}

    def set_threads(n: int) -> None:
        counts.append(n)
        current["n"] = n

    trial = ThreadTrial(sorted(step_seconds), set_threads, clock=clock)
    trial.start()
    steps = 0
    while not trial.done and steps < 1000:
        clock.t += step_seconds[current["n"]] * (50 if steps in paused_steps else 1)
        trial.step_done(paused=steps in paused_steps)
        steps += 1
    return trial, counts, steps


def test_the_trial_times_each_count_then_keeps_the_fastest() -> None:
    trial, counts, steps = run_trial({2: 0.45, 1: 0.09})  # a busy machine
    assert counts == [1, 2, 1]  # tried 1, then 2, then kept 1
    assert trial.chosen == 1
    assert trial.step_ms() == {"1": 90.0, "2": 450.0}
    # A hopeless count is given up after its first step: one slow step is all it costs.
    assert steps == SKIP_STEPS + ThreadTrial.MIN_STEPS + 1

    trial, counts, steps = run_trial({2: 0.04, 1: 0.065})  # an idle one
    assert counts == [1, 2, 2] and trial.chosen == 2
    assert steps == SKIP_STEPS + 5 + 8  # each count timed over >= MIN_SECONDS


def test_a_count_slower_by_half_is_given_up_after_two_steps() -> None:
    _, counts, steps = run_trial({2: 0.1, 1: 0.06})
    assert counts == [1, 2, 1] and steps == SKIP_STEPS + 5 + 2


def test_a_paused_step_is_not_timed() -> None:
    """A GUI pause inside the trial would make its count look 50x slower."""
    trial, _, _ = run_trial({2: 0.04, 1: 0.065}, paused_steps=frozenset({SKIP_STEPS + 1}))
    assert trial.chosen == 2 and trial.step_ms()["1"] == 65.0


def test_one_candidate_needs_no_trial() -> None:
    trial = ThreadTrial([1], lambda n: None)
    assert trial.done and trial.chosen == 1


def test_the_budget_plans_from_the_rate_of_the_chosen_count() -> None:
    """The thread trial's steps are training steps; the plan's rate is measured after it."""
    clock, current = FakeClock(), {"n": 0}
    budget = TimeBudget(30.0, clock.t - 3.0, steps_per_epoch=468, batch_size=128,
                        n_eval_images=10_000, clock=clock)
    budget.trial = ThreadTrial([1, 2], lambda n: current.update(n=n), clock=clock)
    budget.record.threads = 2
    budget.begin()
    while not budget.finished:
        clock.t += {2: 0.30, 1: 0.05}[current["n"]]
        budget.step_done()
    rec = budget.end()
    assert rec.threads == 1 and rec.threads_step_ms == {"1": 50.0, "2": 300.0}
    assert rec.measured_steps_per_s == pytest.approx(20.0)  # 1 thread's rate, not a mix
    assert rec.ended_at_s == pytest.approx(30.0 - rec.reserve_s, abs=0.06)


def test_the_counts_are_timed_again_during_the_run_and_follow_the_load() -> None:
    """Idle at first (2 threads win), then another program takes a core (2 threads become
    hopeless): a later timing moves the run to 1 thread; one unlucky trial is not for good."""
    clock, current = FakeClock(), {"n": 0}
    budget = TimeBudget(60.0, clock.t - 3.0, steps_per_epoch=468, batch_size=128,
                        n_eval_images=10_000, clock=clock)
    budget.trial = ThreadTrial([1, 2], lambda n: current.update(n=n), clock=clock)
    budget.begin()
    began, counts_in_force = clock.t, []
    while not budget.finished:
        busy = clock.t - began > 20.0
        clock.t += {2: 0.5 if busy else 0.02, 1: 0.04}[current["n"]]
        budget.step_done()
        counts_in_force.append((round(clock.t - began), current["n"]))
    rec = budget.end()
    assert rec.thread_trials >= 60 / RETIME_THREADS_SECONDS - 3
    assert {n for t, n in counts_in_force if 5 < t < 20} >= {2}  # idle: mostly 2
    late = [n for t, n in counts_in_force if t > 30]
    assert late.count(1) > 0.95 * len(late)  # busy: 1, but for the re-timings' single steps
    assert rec.threads == 1 and rec.ended_at_s <= 60.0


def test_all_cores_and_one_are_tried_unless_someone_chose(
        torch_threads: int, monkeypatch: pytest.MonkeyPatch) -> None:
    cores = torch_threads
    assert threads_to_try() == sorted({1, cores})
    speed.set_threads(1)  # the trial chose 1: a later run still tries every core
    assert threads_to_try() == sorted({1, cores})
    torch.set_num_threads(3)  # an experiment's --threads after ours
    assert threads_to_try() is None
    monkeypatch.setattr(speed, "_THREADS", {})
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert threads_to_try() is None


@pytest.mark.slow
@pytest.mark.skipif(bool(speed.compile_unavailable_reason(torch.device("cpu"))),
                    reason="torch.compile cannot run on this CPU (no C++ compiler)")
def test_a_compiled_model_runs_right_with_another_thread_count(torch_threads: int) -> None:
    """Compiled kernels read the thread count when they run (cpp.dynamic_threads): the model
    compiled with torch's threads gives the eager answer with one thread too."""
    from core.models import build_model

    torch.manual_seed(0)
    model = build_model("dl-tiny-1k").eval()
    x = torch.randn(16, 1, 28, 28)
    compiled = speed.compile_for_training(model, x, use_amp=False)
    assert compiled.forward is not model, compiled.note
    import torch._inductor.config as inductor_config

    assert inductor_config.cpp.dynamic_threads  # one cache entry for every thread count
    torch.set_num_threads(1)
    with torch.no_grad():
        assert torch.allclose(compiled.forward(x), model(x), atol=1e-5)
