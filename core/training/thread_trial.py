"""Timing a run's own training steps with each candidate torch CPU thread count, to train on the
fastest (time-budget runs, core/training/budget.py). Torch-free: the count is set through an
injected function (speed.set_threads in a run)."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

SKIP_STEPS = 3  # the first steps of a run, or after compilation, are slower (allocator, kernels)


class ThreadTrial:
    """Times the first training steps with each candidate torch thread count (fewest first),
    then keeps the fastest (speed.choose_threads). The steps are the run's own: nothing is spent
    on trying but the slow steps of a losing count, and a count clearly slower than the best so
    far is given up after one or two steps (two threads on a busy 2-core machine: ~1 s a step
    against 45 ms with one). The warm-up steps and any step that held a pause are not timed.
    `set_threads` changes the count (torch's, injected so the trial is testable without it)."""

    MIN_STEPS = 4  # time at least this many steps ...
    MIN_SECONDS = 0.3  # ... over at least this long per count,
    SLOWER = 1.5  # or stop at 2 steps with a median this many times the best so far's,
    HOPELESS = 3.0  # or at 1 step this many times slower

    def __init__(self, candidates: list[int], set_threads: Callable[[int], None],
                 clock: Callable[[], float] = time.perf_counter, skip: int = SKIP_STEPS) -> None:
        self.candidates = candidates
        self.set_threads = set_threads
        self.clock = clock
        self.seconds: dict[int, list[float]] = {n: [] for n in candidates}
        self.chosen = candidates[0] if len(candidates) == 1 else 0
        self.done = len(candidates) < 2
        self._index = 0
        self._skip = skip  # the first steps of a run are slow whatever the count
        self._last = 0.0

    def start(self) -> None:
        """Right before the run's first step."""
        if not self.done:
            self.set_threads(self.candidates[0])
        self._last = self.clock()

    def step_done(self, paused: bool = False) -> bool:
        """After each step until `done`; True on the step that made the choice."""
        now = self.clock()
        took, self._last = now - self._last, now
        if self._skip or paused:
            self._skip = max(0, self._skip - 1)
            return False
        count = self.candidates[self._index]
        times = self.seconds[count]
        times.append(took)
        best = min((statistics.median(t) for t in self.seconds.values() if t is not times and t),
                   default=math.inf)
        if not ((len(times) >= self.MIN_STEPS and sum(times) >= self.MIN_SECONDS)
                or (len(times) >= 2 and statistics.median(times) > self.SLOWER * best)
                or took > self.HOPELESS * best):
            return False
        self._index += 1
        if self._index < len(self.candidates):
            self.set_threads(self.candidates[self._index])
            return False
        from core.training.speed import choose_threads

        self.chosen = choose_threads({n: statistics.median(t) for n, t in self.seconds.items()})
        self.set_threads(self.chosen)
        self.done = True
        return True

    def again(self, skip: int = SKIP_STEPS) -> ThreadTrial:
        """A new trial over the same counts, its first `skip` steps not timed: mid-run (the
        load may have changed, the last timing may have been unlucky) or after a switch to the
        compiled model (a count that lost eagerly may win compiled: warm-up again)."""
        return ThreadTrial(self.candidates, self.set_threads, self.clock, skip)

    @property
    def current(self) -> int:
        """The count in force: the choice, or the one being timed."""
        return self.chosen or self.candidates[self._index]

    def step_ms(self) -> dict[str, float]:
        """Median milliseconds per step for each count timed (JSON keys)."""
        return {str(n): round(1000 * statistics.median(t), 2) for n, t in self.seconds.items()
                if t}
