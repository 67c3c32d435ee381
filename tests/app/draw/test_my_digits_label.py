"""Mislabelling My digits is hard: no label until one is chosen for the drawing, a reset after
each save or clear, and a visible warning plus a question when the model confidently disagrees."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.draw.my_digits_panel import CONFIDENT_READING
from app.draw.tab import DrawTab
from core.paths import bundled_model_path
from tests.support.draw_helpers import draw_digit, settled, wait_idle


@pytest.fixture
def confident_tab(qtbot, tab: DrawTab) -> DrawTab:
    """The tab on the bundled model, which reads the test's plain 7 with high confidence."""
    if not bundled_model_path().is_file():
        pytest.skip("the bundled model is not in this checkout")
    settled(qtbot, tab.primary.picker, lambda: tab.load_model(str(bundled_model_path())))
    draw_digit(qtbot, tab)
    reading = tab.primary.view.prediction
    assert reading is not None and reading.digit == 7 and reading.confidence >= CONFIDENT_READING
    return tab


def press(qtbot, tab: DrawTab, key: Qt.Key) -> None:
    tab.canvas.setFocus()
    qtbot.keyClick(tab.canvas, key)


def test_no_label_until_one_is_chosen_and_enter_then_saves_nothing(
        qtbot, confident_tab: DrawTab) -> None:
    tab = confident_tab
    panel = tab.my_digits
    assert panel.label is None and panel.buttons.checkedId() == -1
    assert panel.save_button.text() == "Save as …"
    press(qtbot, tab, Qt.Key.Key_Return)
    assert tab.store.count() == 0
    assert panel.warning.isVisible() and "Choose the digit" in panel.warning.text()
    press(qtbot, tab, Qt.Key.Key_7)
    assert panel.label == 7 and panel.save_button.text() == "Save as 7"
    assert not panel.warning.isVisible()


def test_the_label_resets_after_a_save_and_after_clearing(qtbot, confident_tab: DrawTab) -> None:
    tab = confident_tab
    press(qtbot, tab, Qt.Key.Key_7)
    with qtbot.waitSignal(tab.my_digits_changed):
        press(qtbot, tab, Qt.Key.Key_Return)
    assert tab.store.images_labels()[1].tolist() == [7]
    assert tab.my_digits.label is None  # the next drawing needs its own label
    assert tab.my_digits.save_button.text() == "Save as …"

    draw_digit(qtbot, tab)
    press(qtbot, tab, Qt.Key.Key_7)
    tab.clear_action.trigger()
    assert tab.my_digits.label is None
    # Picking a label first and drawing after keeps it: only an emptied canvas resets it.
    press(qtbot, tab, Qt.Key.Key_7)
    draw_digit(qtbot, tab)
    assert tab.my_digits.label == 7
    wait_idle(qtbot, tab)


def test_a_label_the_model_confidently_disagrees_with_is_flagged_and_asked(
        qtbot, confident_tab: DrawTab, monkeypatch) -> None:
    tab = confident_tab
    panel = tab.my_digits
    asked: list[tuple[int, int]] = []
    answer = {"save": False}

    def ask(parent, label, reading) -> bool:
        asked.append((label, reading.digit))
        return answer["save"]

    monkeypatch.setattr("app.draw.my_digits_panel.ask_to_save_anyway", ask)
    press(qtbot, tab, Qt.Key.Key_3)  # the drawing is a 7: the last digit chosen was a 3
    assert panel.warning.isVisible()
    assert "reads a 7" in panel.warning.text() and "really a 3" in panel.warning.text()
    press(qtbot, tab, Qt.Key.Key_Return)
    assert asked == [(3, 7)] and tab.store.count() == 0  # Cancel: nothing saved ...
    assert tab.canvas.strokes and panel.label == 3  # ... and nothing lost

    answer["save"] = True  # the user insists: a misread digit is worth keeping
    with qtbot.waitSignal(tab.my_digits_changed):
        press(qtbot, tab, Qt.Key.Key_Return)
    assert asked == [(3, 7), (3, 7)] and tab.store.images_labels()[1].tolist() == [3]

    draw_digit(qtbot, tab)
    press(qtbot, tab, Qt.Key.Key_7)  # agreeing: no warning, no question
    assert not panel.warning.isVisible()
    with qtbot.waitSignal(tab.my_digits_changed):
        press(qtbot, tab, Qt.Key.Key_Return)
    assert len(asked) == 2 and tab.store.images_labels()[1].tolist() == [3, 7]
    wait_idle(qtbot, tab)


def test_the_question_defaults_to_cancel(qtbot, confident_tab: DrawTab, monkeypatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    seen: list[tuple[str, str, Qt.TextFormat]] = []

    def exec_(box: QMessageBox) -> int:
        seen.append((box.text(), box.defaultButton().text(), box.textFormat()))
        return 0  # closed without choosing: counts as Cancel

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    press(qtbot, confident_tab, Qt.Key.Key_1)
    press(qtbot, confident_tab, Qt.Key.Key_Return)
    assert confident_tab.store.count() == 0
    (text, default, fmt), = seen
    assert "as a 7" in text and "chose 1" in text
    assert default == "Cancel" and fmt == Qt.TextFormat.PlainText
