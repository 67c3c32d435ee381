"""Every dialog of the app has a way out that is a button (issue 26.6: the sweep dialog had
none, only the window manager's X): each module that makes a QDialog gives it a Close / OK
button box or a Close button. The dialogs that need no set-up are also opened and checked."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtWidgets import QDialogButtonBox, QPushButton

from tests.conftest import REPO

MAKES_A_DIALOG = re.compile(r"\bQDialog\)|\bQDialog\(")
HAS_A_BUTTON = re.compile(r"QDialogButtonBox\.StandardButton\.(Close|Ok)\b"
                          r"|QPushButton\(\"Close\"\)")


def test_every_module_that_makes_a_dialog_gives_it_a_close_button() -> None:
    modules = [p for p in (REPO / "app").rglob("*.py") if MAKES_A_DIALOG.search(p.read_text())]
    assert len(modules) >= 4, modules  # sweep, layers, data banner, experiments, My digits
    without = [str(p.relative_to(REPO)) for p in modules if not HAS_A_BUTTON.search(p.read_text())]
    assert without == []


def _closes(dialog) -> bool:  # type: ignore[no-untyped-def]
    boxes = dialog.findChildren(QDialogButtonBox)
    buttons = dialog.findChildren(QPushButton)
    return any(b.button(QDialogButtonBox.StandardButton.Close) for b in boxes) or \
        any(b.text() in ("Close", "OK") for b in buttons)


def test_the_sweep_and_my_digits_dialogs_open_with_close(qtbot, tmp_path: Path) -> None:
    from app.draw.my_digits_browser import MyDigitsBrowser
    from app.train.sweep_dialog import SweepDialog
    from core.data.my_digits import MyDigits
    from core.experiments.storage import ExperimentStore
    from core.runs.store import RunStore
    from core.training.config import TrainConfig

    sweep = SweepDialog(TrainConfig(), store=ExperimentStore(RunStore(tmp_path / "runs")))
    browser = MyDigitsBrowser(MyDigits(tmp_path / "my"))
    for dialog in (sweep, browser):
        qtbot.addWidget(dialog)
        assert _closes(dialog), type(dialog).__name__
    qtbot.waitUntil(lambda: not browser.jobs.busy, timeout=30_000)
