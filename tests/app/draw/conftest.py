"""Fixtures of the Draw-tab tests: a tab on a real model, settings in a temporary INI file, and
the dialogs it would show captured instead of blocking."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox

from app.draw.tab import DrawTab
from core.data.my_digits import MyDigits
from core.paths import bundled_model_path
from tests.core.data.test_my_digits import gemm_onnx
from tests.support.draw_helpers import settled, wait_idle


@pytest.fixture
def model_path(tmp_path: Path) -> Path:
    """The real bundled model when it is there, else a Gemm model built with onnx.helper."""
    bundled = bundled_model_path()
    return bundled if bundled.is_file() else gemm_onnx(tmp_path / "gemm.onnx")


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@dataclass(frozen=True)
class Shown:
    """A message box the tab showed: its title, text and how Qt was told to render the text."""

    title: str
    text: str
    text_format: Qt.TextFormat


@pytest.fixture
def dialogs(monkeypatch: pytest.MonkeyPatch) -> list[Shown]:
    """Message boxes the tab would show, captured instead of blocking, and answered Ok."""
    shown: list[Shown] = []

    def exec_(box: QMessageBox) -> int:
        shown.append(Shown(box.windowTitle(), box.text(), box.textFormat()))
        return int(QMessageBox.StandardButton.Ok)

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    return shown


def texts(dialogs: list[Shown]) -> list[str]:
    return [box.text for box in dialogs]


def make_tab(qtbot, settings: QSettings, store_dir: Path) -> DrawTab:
    widget = DrawTab(settings=settings, store=MyDigits(store_dir))
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    widget.show()
    qtbot.waitExposed(widget)
    wait_idle(qtbot, widget)  # the start-up model loads in the background
    return widget


@pytest.fixture
def tab(qtbot, settings: QSettings, tmp_path: Path, model_path: Path, dialogs):
    widget = make_tab(qtbot, settings, tmp_path / "my_digits")
    settled(qtbot, widget.primary.picker, lambda: widget.load_model(str(model_path)))
    assert widget.classifier is not None and widget.classifier.path == model_path.resolve()
    wait_idle(qtbot, widget)
    yield widget
    assert widget.shutdown(10.0), "a Draw-tab job did not end"
