"""Training to a time budget: how many steps fit, and a schedule that ends exactly there.

`TimeBudget` is told when the budget started (for `digitlab-cli train --time-budget S`: when the
process started, so imports, data loading and compilation count), how long the final
evaluation, saving and exit will take (the reserve), and then about each optimizer step. It
measures the step rate on the first steps after compilation, plans the number of steps that
fit before the deadline, and re-plans every half second from the rate of the last few seconds
(another program taking the CPU slows the steps; the plan follows). The learning-rate schedule
runs on `progress` in [0, 1] instead of a step count: each step advances it by its share of the
steps still planned, so a re-plan bends the schedule instead of making it jump, and OneCycle or
cosine reach their end on the last planned step whatever the rate did. Torch-free.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.text import plural
from core.training.config import TrainConfig, lr_multiplier
from core.training.thread_trial import SKIP_STEPS, ThreadTrial

if TYPE_CHECKING:
    from core.training.budget_compile import CompileSwitch
    from core.training.state import TrainState

_IMPORTED_AT = time.time()  # the fallback for "process start" where the OS does not say

MEASURE_SECONDS = 0.5  # measure at least this long (and MEASURE_STEPS) before the first plan
MEASURE_STEPS = 10
REPLAN_SECONDS = 0.5  # re-plan this often
RATE_WINDOW_SECONDS = 3.0  # the rate of the last few seconds: follows a change of load quickly
# Time the thread counts again this often: one slow step in a 4-step trial once sent a run on an
# idle 2-core machine to 1 thread for the whole budget (42.8 steps/s instead of ~60), and another
# program may start or end mid-run. A re-timing costs ~10 steps, half at the slower count.
RETIME_THREADS_SECONDS = 5.0
EXIT_SECONDS = 1.0  # saving the run, ending the process (torch's teardown) and a margin
_SCHEDULE_RESOLUTION = 1_000_000  # progress → a step count for lr_multiplier
# A run that ends with less training than this, or this inaccurate, is called far from trained.
TRAINED_EPOCHS = 1.0
TRAINED_ACCURACY = 50.0  # % (always answering one digit: ~10%)


def process_start_time() -> float:
    """When this process started, wall clock (seconds since the epoch).

    Linux: from /proc (process start in clock ticks after boot, and the uptime). Windows: from
    GetProcessTimes. Elsewhere: when this module was imported, shortly after start-up.
    """
    try:
        if sys.platform.startswith("linux"):
            stat = Path("/proc/self/stat").read_text()
            start_ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22: starttime
            uptime = float(Path("/proc/uptime").read_text().split()[0])
            return time.time() - (uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
        if sys.platform == "win32":
            return _windows_process_start()
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    return _IMPORTED_AT


def _windows_process_start() -> float:
    import ctypes
    from ctypes import wintypes

    creation, exited, kernel, user = (wintypes.FILETIME() for _ in range(4))
    process = ctypes.windll.kernel32.GetCurrentProcess()  # type: ignore[attr-defined]
    if not ctypes.windll.kernel32.GetProcessTimes(  # type: ignore[attr-defined]
            process, ctypes.byref(creation), ctypes.byref(exited), ctypes.byref(kernel),
            ctypes.byref(user)):
        raise OSError("GetProcessTimes failed")
    ticks = (creation.dwHighDateTime << 32) | creation.dwLowDateTime  # 100 ns since 1601
    return (ticks - 116_444_736_000_000_000) / 1e7


@dataclass(frozen=True)
class BudgetStart:
    """Where a time budget is counted from: `at` is wall-clock time (time.time())."""

    at: float
    what: str  # "process start" (the CLI: start-up counts) or "training start"

    @classmethod
    def process(cls) -> BudgetStart:
        return cls(process_start_time(), "process start")

    @classmethod
    def now(cls) -> BudgetStart:
        return cls(time.time(), "training start")


@dataclass
class BudgetRecord:
    """What a budgeted run chose and did: saved in the run record (env["time_budget"])."""

    budget_s: float  # the budget, counted from `counted_from`
    counted_from: str  # "process start" (CLI) or "training start" (GUI, tests)
    startup_s: float = 0.0  # from the budget's start to the first training step
    reserve_s: float = 0.0  # kept for the final evaluation, saving and exit
    measured_steps_per_s: float = 0.0  # the first measurement, after compilation
    planned_steps: int = 0  # the first plan
    planned_epochs: float = 0.0
    final_steps_per_s: float = 0.0  # the rate at the last re-plan
    replans: int = 0
    steps: int = 0  # done
    epochs: float = 0.0  # done (fractional)
    training_s: float = 0.0  # from the first step to the last
    evaluation_s: float = 0.0  # the final evaluation
    ended_at_s: float = 0.0  # when the run ended, counted from the budget's start
    threads: int = 0  # torch CPU threads it trained with (0: not on the CPU)
    threads_chosen_by: str = ""  # "measured", "OMP_NUM_THREADS or set by the caller", ...
    threads_step_ms: dict[str, float] = field(default_factory=dict)  # median step per count
    thread_trials: int = 0  # how many times the counts were timed (every RETIME_THREADS_SECONDS)
    eager_threads_step_ms: dict[str, float] = field(default_factory=dict)  # before a switch
    compile: str = ""  # what it did about torch.compile, and why
    compile_s: float = 0.0  # spent compiling (before the first step, or when it switched)
    compile_speedup: float = 0.0  # compiled over eager step speed it decided on (0: no choice)
    precision: str = "fp32"  # "bf16": trained under bf16 autocast (speed.autocast_bf16)
    compiled_from_step: int = -1  # the step it switched to the compiled model at (-1: never)
    verdict: str = ""  # "" when trained; else why the model is far from trained

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TimeBudget:
    """Plans and paces the optimizer steps of one run so that it ends by its deadline.

    Call `begin()` right before the first step and `step_done(paused_s)` after each;
    `progress` drives the schedule and `finished` says when to stop. `clock` is wall-clock
    seconds (time.time) so that a budget counted from process start compares with it; `sync`
    waits for queued device work (CUDA) before the clock is read to measure a rate.
    """

    def __init__(self, budget_s: float, started_at: float, steps_per_epoch: int,
                 batch_size: int, n_eval_images: int, counted_from: str = "training start",
                 clock: Callable[[], float] = time.time,
                 sync: Callable[[], None] | None = None) -> None:
        self.started_at = started_at
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.n_eval_images = n_eval_images
        self.clock = clock
        self.sync = sync or (lambda: None)
        self.record = BudgetRecord(budget_s=budget_s, counted_from=counted_from,
                                   reserve_s=EXIT_SECONDS)
        self.paused_s = 0.0
        self.steps = 0
        self.progress = 0.0  # in [0, 1]: the fraction of the schedule done
        self.planned_steps = 0  # total, including the steps done; 0 until the first plan
        self._first_step_at = 0.0
        self._last_plan_at = 0.0
        self._marks: deque[tuple[float, int]] = deque()  # (time, steps) for the rate window
        self.trial: ThreadTrial | None = None  # times the steps per thread count (CPU)
        self._trial_ended_at = 0.0
        self.switch: CompileSwitch | None = None  # swaps in a compiled model when it pays
        self.after_run: list[Callable[[], None]] = []  # `close` calls these, in order

    @property
    def deadline(self) -> float:
        """When training must end: the budget, less the reserve, plus any pauses."""
        rec = self.record
        return self.started_at + rec.budget_s + self.paused_s - rec.reserve_s

    def begin(self) -> None:
        now = self.clock()
        self._first_step_at = self._last_plan_at = now
        self.record.startup_s = now - self.started_at
        # Until the rate is measured, plan as if a step took 10 ms: only the first few steps,
        # deep in OneCycle's warm-up, use this guess.
        self.planned_steps = max(1, int((self.deadline - now) / 0.01))
        if self.trial is not None:
            self.trial.start()

    @property
    def finished(self) -> bool:
        return self.progress >= 1.0

    def _advance(self) -> None:
        """One more step: progress moves by its share of what is left of the plan."""
        remaining = max(1, self.planned_steps - self.steps)
        self.steps += 1
        self.progress = min(1.0, self.progress + (1.0 - self.progress) / remaining)
        if self.steps >= self.planned_steps:
            self.progress = 1.0

    def step_done(self, paused_s: float = 0.0) -> None:
        """Count one optimizer step; a pause (GUI) moves the deadline by its length."""
        self.paused_s += paused_s
        self._advance()
        if self.clock() >= self.deadline:
            self.progress = 1.0  # time is up, whatever the plan said
        if self.finished:
            return
        if self.trial is not None and not self.trial.done:
            if self.trial.step_done(paused=paused_s > 0):  # it has just chosen
                self.record.threads = self.trial.chosen
                self.record.threads_step_ms = self.trial.step_ms()
                self.record.thread_trials += 1
                self._trial_ended_at = self.clock()
                self._restart_rate()
            return
        now = self.clock()
        if (self.trial is not None and now - self._trial_ended_at >= RETIME_THREADS_SECONDS
                and self.deadline - now > RETIME_THREADS_SECONDS / 2):  # not in the last steps
            self._retime_threads(skip=1)  # the step after a change of count is slow
            return
        if not self._marks:
            if self.steps >= SKIP_STEPS:
                self._restart_rate()
            return
        if self.clock() - self._last_plan_at < REPLAN_SECONDS and self.record.planned_steps:
            return
        if self.switch is not None and self.switch(self.deadline - self.clock(), self.steps):
            self._restart_rate()  # the compiled model steps at another rate
            if self.trial is not None:  # ... and its fastest thread count may be another
                self.record.eager_threads_step_ms = self.trial.step_ms()
                self._retime_threads(skip=SKIP_STEPS)
            return
        self.sync()
        active = self._active_time()
        measured = self.steps - self._marks[0][1]
        if not self.record.planned_steps and (
                active - self._marks[0][0] < MEASURE_SECONDS or measured < MEASURE_STEPS):
            return
        self._plan(active)

    def _retime_threads(self, skip: int) -> None:
        """Time the thread counts again from the next step, its first `skip` steps untimed."""
        assert self.trial is not None
        self.trial = self.trial.again(skip)
        self.trial.start()

    def _restart_rate(self) -> None:
        """Measure the step rate afresh from this step on (after warm-up, a new thread count or
        a compiled model); the plan made so far stands until the next re-plan."""
        self.sync()
        self._marks.clear()
        self._marks.append((self._active_time(), self.steps))
        self._last_plan_at = self.clock()

    def _active_time(self) -> float:
        """The clock less the pauses so far: what the step rate is measured on."""
        return self.clock() - self.paused_s

    def _plan(self, active: float) -> None:
        self._marks.append((active, self.steps))
        while len(self._marks) > 2 and active - self._marks[1][0] >= RATE_WINDOW_SECONDS:
            self._marks.popleft()
        t0, s0 = self._marks[0]
        rate = (self.steps - s0) / max(active - t0, 1e-6)
        self.record.reserve_s = estimate_reserve(self.n_eval_images, rate * self.batch_size)
        now = self.clock()
        left = max(0, math.floor((self.deadline - now) * rate))
        self.planned_steps = self.steps + left
        if left == 0:
            self.progress = 1.0  # out of time: end the schedule here
        self._last_plan_at = now
        rec = self.record
        if not rec.planned_steps:
            rec.measured_steps_per_s = rate
            rec.planned_steps = self.planned_steps
            rec.planned_epochs = self.planned_steps / self.steps_per_epoch
        else:
            rec.replans += 1
        rec.final_steps_per_s = rate

    def close(self) -> None:
        """However the run ended (done, stopped, failed): what was to follow it (e.g. the
        background compile it left for later runs)."""
        hooks, self.after_run = self.after_run, []
        for hook in hooks:
            hook()

    def end(self, evaluation_s: float = 0.0) -> BudgetRecord:
        """Close the record once training (and the final evaluation) are over."""
        now = self.clock()
        rec = self.record
        if self.trial is not None and self.trial.candidates:  # it may have ended mid-trial
            rec.threads, rec.threads_step_ms = self.trial.current, self.trial.step_ms()
            # The choice was for this run's steps: what trains next in this process (the GUI's
            # next run) starts from every core again.
            self.trial.set_threads(max(self.trial.candidates))
        rec.steps = self.steps
        rec.epochs = self.steps / self.steps_per_epoch
        rec.training_s = now - evaluation_s - self._first_step_at if self._first_step_at else 0.0
        rec.evaluation_s = evaluation_s
        rec.ended_at_s = now - self.started_at
        return rec


class StepBudget(TimeBudget):
    """A fixed number of steps on the time budget's schedule, with no clock in the way: how
    recipes for a budget are compared on validation whatever else the machine is doing
    (benchmarks/bench_budget_recipe.py); the steps stand for the seconds at a measured rate."""

    def __init__(self, steps: int, steps_per_epoch: int, batch_size: int) -> None:
        super().__init__(0.0, time.time(), steps_per_epoch, batch_size, 0, "a fixed step count")
        self.fixed_steps = steps

    def begin(self) -> None:
        super().begin()
        self.planned_steps = self.record.planned_steps = self.fixed_steps
        self.record.planned_epochs = self.fixed_steps / self.steps_per_epoch

    def step_done(self, paused_s: float = 0.0) -> None:
        self._advance()


def schedule_multiplier(config: TrainConfig, progress: float) -> float:
    """The learning rate at `progress` (0..1) through the run, as a fraction of config.lr."""
    return lr_multiplier(config, round(progress * _SCHEDULE_RESOLUTION), _SCHEDULE_RESOLUTION)


def estimate_reserve(n_eval_images: int, train_images_per_s: float) -> float:
    """Seconds to keep for the final evaluation (forward only, no augmentation: about a third of
    a training step's work per image, counted as 40% for safety) and for saving and exit."""
    return n_eval_images / max(train_images_per_s * 2.5, 1.0) + EXIT_SECONDS


def new_budget(state: TrainState, start: BudgetStart) -> TimeBudget:
    """The time budget of `state`'s run (config.time_budget seconds from `start`)."""
    import torch

    config, device = state.config, state.device
    sync = {"cuda": lambda: torch.cuda.synchronize(device),
            "mps": lambda: torch.mps.synchronize()}.get(device.type)
    from core.training.tta import tta_angles

    # The final evaluation reads every test and validation image once per TTA view.
    views = len(tta_angles(getattr(config, "tta_degrees", 0.0)))
    n_eval = views * (len(state.test) + (len(state.val) if state.val is not None else 0))
    budget = TimeBudget(config.time_budget, start.at, state.steps_per_epoch, config.batch_size,
                        n_eval, counted_from=start.what, sync=sync)
    budget.record.precision = "bf16" if state.use_amp else "fp32"
    from core.training.budget_compile import plan_compile

    if device.type == "cpu":  # background compiles wait while this run trains
        from core.training import compile_cache

        mark = compile_cache.mark_training()
        budget.after_run.append(lambda: compile_cache.unmark_training(mark))
    plan_compile(state, budget)  # compile now, later (when it pays) or never
    if device.type == "cpu":
        budget.record.threads = torch.get_num_threads()
        budget.trial = new_thread_trial(budget.record)
    return budget


def new_thread_trial(record: BudgetRecord) -> ThreadTrial | None:
    """The thread trial of a CPU run, or None where the count is someone else's choice."""
    from core.training import speed

    candidates = speed.threads_to_try()
    if candidates is None:
        record.threads_chosen_by = "OMP_NUM_THREADS or set by the caller"
        return None
    record.threads_chosen_by = "measured" if len(candidates) > 1 else "one count to try"
    return ThreadTrial(candidates, speed.set_threads)


def use_budget_threads(config: TrainConfig) -> None:
    """On the CPU, start with all cores (data loading and compiling are done with them); the
    first steps then time each count (ThreadTrial): a budget run's numbers depend on the
    machine anyway, and on a busy one a single thread was ~5-10x faster than two."""
    from core.training import speed
    from core.training.devices import resolve_device

    if resolve_device(config.device).type == "cpu":
        candidates = speed.threads_to_try()
        if candidates is not None:
            speed.set_threads(candidates[-1])


def follow_budget(state: TrainState, budget: TimeBudget) -> None:
    """Switch the run's learning-rate schedule over to the budget's progress."""
    import torch

    state.scheduler = torch.optim.lr_scheduler.LambdaLR(
        state.optimizer, lambda _: schedule_multiplier(state.config, budget.progress))


def budget_verdict(rec: BudgetRecord, test_acc: float) -> str:
    """"" for a trained model; else, plainly, that the budget ended before it was trained."""
    problems = []
    if rec.epochs < TRAINED_EPOCHS:
        problems.append(f"{rec.steps:,} step{'s' if rec.steps != 1 else ''}, "
                        f"{rec.epochs:.2f} of an epoch")
    if test_acc < TRAINED_ACCURACY:
        problems.append(f"test accuracy {test_acc:.2f}%, where always answering one digit "
                        "scores about 10%")
    if not problems:
        return ""
    return (f"The {rec.budget_s:g} s time budget ended with the model far from trained "
            f"({'; '.join(problems)}): start-up took {rec.startup_s:.1f} s of it. Give it a "
            "longer budget.")


def budget_summary(rec: BudgetRecord) -> str:
    """One line for the log: what the budget allowed and where the time went."""
    return (f"Time budget {rec.budget_s:g} s (counted from {rec.counted_from}): "
            f"{rec.steps:,} steps = {rec.epochs:.2f} epochs at {rec.final_steps_per_s:.1f} "
            f"steps/s (measured first: {rec.measured_steps_per_s:.1f}; planned "
            f"{rec.planned_steps:,}{f', {rec.threads} CPU threads' if rec.threads else ''}, "
            f"{rec.precision}); "
            f"{_threads_note(rec)}{rec.compile + ' ' if rec.compile else ''}"
            f"start-up {rec.startup_s:.1f} s, training "
            f"{rec.training_s:.1f} s, evaluation {rec.evaluation_s:.1f} s, done at "
            f"{rec.ended_at_s:.1f} s.")


def _threads_note(rec: BudgetRecord) -> str:
    if not rec.threads_step_ms:
        return ""
    timed = ", ".join(f"{plural(n, 'thread')} {ms:.0f} ms" for n, ms in rec.threads_step_ms.items())
    return f"Threads by timing the first steps ({timed} a step): {rec.threads}. "
