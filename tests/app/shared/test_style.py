"""Widgets follow a system light/dark switch while the app runs, not only at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from app.draw.my_digits_panel import MyDigitsPanel
from core.data.my_digits import MyDigits


@pytest.fixture
def restore_palette(qapp):  # type: ignore[no-untyped-def]
    original = QApplication.palette()
    yield
    QApplication.setPalette(original)


def button_lightness(panel: MyDigitsPanel) -> int:
    button = panel.buttons.button(5)  # an unchecked label button
    image = button.grab().toImage()
    return image.pixelColor(image.width() // 2, 3).lightness()


def test_label_buttons_follow_a_switch_to_dark(qtbot, tmp_path: Path, restore_palette) -> None:
    light = QPalette(QColor("#efefef"))
    QApplication.setPalette(light)
    panel = MyDigitsPanel(MyDigits(tmp_path / "my_digits"))
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    before = button_lightness(panel)
    QApplication.setPalette(QPalette(QColor("#2d2f33")))  # the desktop switched to dark
    qtbot.wait(50)
    after = button_lightness(panel)
    assert before > 180 and after < 90, (before, after)
