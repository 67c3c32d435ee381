"""The Qt binding we run on must survive a long session of signals (a PySide6 6.12.0 bug)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class Emitter(QObject):
    fired = Signal(int)


def test_signals_do_not_leak_references_to_true(qapp) -> None:
    emitter, received = Emitter(), []
    emitter.fired.connect(received.append)
    before = sys.getrefcount(True)
    for i in range(2000):  # a minute of drawing emits about this many
        emitter.fired.emit(i)
    assert len(received) == 2000
    # On PySide6 6.12.0 + CPython 3.11 this drops by 2000 and the process later aborts.
    assert abs(sys.getrefcount(True) - before) < 50
