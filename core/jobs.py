"""The one protocol between long work and whoever runs it: a `Job`.

A long core function (fine-tuning, an experiment, anything the app runs in the background)
takes a `Job`, reports through it and asks it whether to stop. `app.shared.jobs.JobState` is
the GUI's (values cross to the GUI thread), `ConsoleJob` the terminal's; tests pass either or a
plain recorder. Plain Python, no Qt, no threads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Job(Protocol):
    def set_progress(self, value: object) -> None:
        """How far the work is: any plain value (a status line, a (done, total) pair)."""
        ...

    def set_partial_result(self, value: object) -> None:
        """A piece of the result, usable before the whole (the metrics of one epoch)."""
        ...

    def is_interruption_requested(self) -> bool:
        """True once the work should stop soon (raise or return, either is fine)."""
        ...


class ConsoleJob:
    """A `Job` for terminals and scripts: progress lines go to `print_fn` (None: nowhere),
    partial results are dropped; never interrupted (Ctrl+C is)."""

    def __init__(self, print_fn: Callable[[str], object] | None = print) -> None:
        self._print = print_fn

    def set_progress(self, value: object) -> None:
        if self._print is not None:
            self._print(str(value))

    def set_partial_result(self, value: object) -> None:
        pass

    def is_interruption_requested(self) -> bool:
        return False
