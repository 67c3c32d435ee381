"""Whether a time-budget run compiles its model: only when the compile pays for itself.

Compiling makes each CPU step `speedup` times faster but costs its time first: ~2.5 s when
torch's cache holds the model (warm), ~28 s when it does not (cold; ~50 s on a loaded machine).
A cold compile in a 30 s budget left one training step (8.9% test accuracy). So, with `left` the
seconds the budget has left and `cost` the compile's expected seconds, compiling is worth it when
the steps gained after it exceed the steps lost during it:

    (left - cost) * speedup > left   <=>   left > cost * speedup / (speedup - 1)

i.e. beyond ~11 s warm and ~120 s cold at 1.3x. The speed-up is this machine's, measured by the
background compile (compile_cache.measured_speedup; 1.3x is assumed until then): with bf16
autocast on the 2-core EPYC it measured ~1.0x, and such a machine never compiles. A run that
does not compile trains eagerly at once; when the cache was cold, it leaves a background
process behind that compiles the model into the cache once no time-budget run is training
(core/training/compile_cache.py; beside the run it took a core from it), so later runs find it
warm and know the speed-up. A run switches to the compiled model mid-way when another process's
compile finishes while a warm compile still pays (then times the thread counts again): the
same weights are compiled in this process (a warm compile: weights, BatchNorm statistics and
gradients are put back, see speed.compile_for_training) between two steps.
Torch-free but for the compile itself. Only the CPU decides: elsewhere the run compiles as any.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.training import compile_cache

if TYPE_CHECKING:
    import torch

    from core.training.budget import BudgetRecord, TimeBudget
    from core.training.state import TrainState


MIN_SPEEDUP = 1.05  # a measured speed-up below this is noise: compiling never pays


@dataclass(frozen=True)
class CompileChoice:
    compile: bool
    expected_s: float  # what the compile should cost
    pays_after_s: float  # the time left beyond which it pays (inf: never)


def choose_compile(left_s: float, warm: bool, cold_s: float, warm_s: float,
                   speedup: float = compile_cache.CPU_COMPILE_SPEEDUP) -> CompileChoice:
    """Compile when `left_s` seconds of budget are enough for the compile to pay (see above)."""
    cost = warm_s if warm else cold_s
    if speedup < MIN_SPEEDUP:
        return CompileChoice(False, cost, math.inf)
    pays_after = cost * speedup / (speedup - 1.0)
    return CompileChoice(left_s > pays_after, cost, pays_after)


def compile_speedup(key: str) -> tuple[float, str]:
    """(this machine's compiled-step speed-up for `key`, how it is known) for the record."""
    measured = compile_cache.measured_speedup(key)
    if measured is None:
        return compile_cache.CPU_COMPILE_SPEEDUP, "assumed until measured"
    return measured, "measured here"


def _sample(state: TrainState) -> torch.Tensor:
    from core.training.evaluate import prepare_input

    return prepare_input(state.train.images[:state.config.batch_size], None, None)


def _adopt(state: TrainState, record: BudgetRecord, sample: torch.Tensor,
           mid_run: bool = False) -> bool:
    """Compile `state.model` and train with it from the next step; False if it failed."""
    from core.training.speed import compile_for_training

    compiled = compile_for_training(state.model, sample, state.use_amp)
    if not mid_run or compiled.forward is state.model:  # its note says "before the first step"
        state.reporter.status(compiled.note)
    record.compile_s += compiled.seconds
    state.compile_seconds += compiled.seconds
    if compiled.forward is state.model:
        record.compile += f" {compiled.note}"
        return False
    state.forward = compiled.forward
    return True


def plan_compile(state: TrainState, budget: TimeBudget) -> None:
    """Before the first step of a budget run: compile now, train eagerly (and warm the cache in
    the background), or leave it to the device. The choice and its reasons go in the record."""
    from core.training.speed import compile_unavailable_reason

    config, record = state.config, budget.record
    if not config.compile or state.forward is not state.model:
        record.compile = "" if not config.compile else "Compiled before the budget's plan."
        return
    reason = compile_unavailable_reason(state.device)
    if reason:
        record.compile = f"Trained eagerly: torch.compile is unavailable ({reason})."
        state.reporter.status(record.compile)
        return
    sample = _sample(state)
    if state.device.type != "cpu":  # launches saved by compiling dwarf its cost on a GPU
        state.reporter.status("Compiling the model (once per run; cached for the next)…")
        if _adopt(state, record, sample):
            record.compile, record.compiled_from_step = "Compiled first.", 0
        return
    key = compile_cache.cache_key(state.model, sample, state.use_amp)
    warm = compile_cache.is_warm(key)
    times = compile_cache.compile_times()
    left = budget.deadline - budget.clock() - record.reserve_s
    speedup, known = compile_speedup(key)
    record.compile_speedup = round(speedup, 3)
    choice = choose_compile(left, warm, times["cold_s"], times["warm_s"], speedup)
    cache = "warm" if warm else "cold"
    if math.isinf(choice.pays_after_s):
        record.compile = (f"Trained eagerly: a compiled step is only {speedup:.2f}x as fast as an "
                          "eager one on this machine (measured), so compiling never pays.")
        state.reporter.status(record.compile)
        return
    if choice.compile:
        state.reporter.status(f"Compiling the model (cache {cache}: ~{choice.expected_s:.0f} s, "
                              f"{left:.0f} s left)…")
        if _adopt(state, record, sample):
            record.compile = (f"Compiled first (cache {cache}, {record.compile_s:.1f} s; at "
                              f"{speedup:.2f}x, {known}, it pays beyond "
                              f"{choice.pays_after_s:.0f} s left, {left:.0f} s were).")
            record.compiled_from_step = 0
        return
    record.compile = (f"Trained eagerly: a compile with the cache {cache} (~"
                      f"{choice.expected_s:.0f} s, then {speedup:.2f}x, {known}) pays only with "
                      f"more than {choice.pays_after_s:.0f} s left; {left:.0f} s were.")
    if not warm:
        record.compile += (" The model compiles in a background process once this run has "
                           "ended, for later runs.")
        budget.after_run.append(lambda: _warm_later(config.model, config.batch_size, key,
                                                    state.use_amp))
    state.reporter.status(record.compile)
    budget.switch = CompileSwitch(state, record, sample, key, warm_at_start=warm)


def _warm_later(model_name: str, batch_size: int, key: str, use_amp: bool) -> None:
    with contextlib.suppress(OSError):  # no process to spare: the next run decides again
        compile_cache.start_warmer(model_name, batch_size, key, use_amp)


class CompileSwitch:
    """Polled by the budget at each re-plan: once the cache is warm, and while a warm compile
    still pays for the time left, compile the run's model and train on with it."""

    def __init__(self, state: TrainState, record: BudgetRecord, sample: torch.Tensor, key: str,
                 warm_at_start: bool) -> None:
        self.state, self.record, self.sample, self.key = state, record, sample, key
        self.warm_at_start = warm_at_start
        self.done = False

    def __call__(self, left_s: float, step: int) -> bool:
        """True when it switched to the compiled model (at `step`)."""
        if self.done:
            return False
        if not compile_cache.is_warm(self.key) or compile_cache.warmer_running(self.key):
            return False  # a warmer still holds the lock while it times the steps
        speedup, _ = compile_speedup(self.key)  # the warmer has just measured it
        self.record.compile_speedup = round(speedup, 3)
        choice = choose_compile(left_s, True, 0.0, compile_cache.compile_times()["warm_s"],
                                speedup)
        if math.isinf(choice.pays_after_s):
            self.done = True
            self.record.compile += (f" The background compile measured {speedup:.2f}x: "
                                    "not worth switching.")
            return False
        if not choice.compile:
            if self.warm_at_start:  # warm from the start but too short: nothing will change
                self.done = True
            return False
        self.done = True
        t0 = time.perf_counter()
        if _adopt(self.state, self.record, self.sample, mid_run=True):
            self.record.compiled_from_step = step
            switched = (f"Switched to the compiled model at step {step:,} "
                        f"({time.perf_counter() - t0:.1f} s to compile, warm).")
            self.record.compile += f" {switched}"
            self.state.reporter.status(switched)
        return True
