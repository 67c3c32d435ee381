"""Text from files is shown as text: model names from metadata, file names and the errors that
quote them never render as HTML in the Draw tab's labels, tooltips, lists or dialogs."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from app.draw.tab import DrawTab
from tests.support.draw_helpers import displayed, named_model, settled, wait_idle

HOSTILE_NAMES = ["<img src=x>", "<a href=y>z</a>", "<font color=red>red</font>"]


def shown_texts(tab: DrawTab) -> list[tuple[str, str, str]]:
    """(where, text as set, text as Qt displays it) for every label and tooltip in the tab,
    and every tooltip in the two model lists."""
    found = []
    for label in tab.findChildren(QLabel):
        found.append((f"label {label.objectName() or type(label).__name__}", label.text(),
                      displayed(label.text(), label.textFormat())))
    for widget in [tab, *tab.findChildren(QWidget)]:
        if widget.toolTip():
            found.append((f"tooltip of {type(widget).__name__}", widget.toolTip(),
                          displayed(widget.toolTip(), Qt.TextFormat.AutoText)))
    for column in (tab.primary, tab.secondary):
        combo = column.picker.combo
        for i in range(combo.count()):
            tip = combo.itemData(i, Qt.ItemDataRole.ToolTipRole)
            if tip:
                found.append((f"list tooltip {combo.itemText(i)}", tip,
                              displayed(tip, Qt.TextFormat.AutoText)))
    return found


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_model_name_with_markup_renders_literally(qtbot, tab: DrawTab, tmp_path: Path,
                                                     name: str) -> None:
    path = named_model(tmp_path / f"{name.replace('/', '_')}.onnx", name,
                       **{"digitlab.test_accuracy": name})
    tab.set_compare(True)
    wait_idle(qtbot, tab)
    for picker in (tab.primary.picker, tab.secondary.picker):
        settled(qtbot, picker, lambda p=picker: p.select_path(str(path)))
    wait_idle(qtbot, tab)
    assert tab.classifier.name == name
    assert name in tab.primary.picker.info.full_text()
    where_shown = [(where, seen) for where, text, seen in shown_texts(tab)
                   if name in text or html.escape(name, quote=False) in text]
    # The name reaches the info lines and their tooltips, and the list's tooltip (file path).
    assert len(where_shown) >= 4, where_shown
    for where, seen in where_shown:
        assert name in seen, f"{where} renders {name!r} as markup: {seen!r}"
    combo = tab.primary.picker.combo
    assert combo.currentText() == path.name + " (opened)"  # list lines are plain text in Qt


def test_a_file_name_with_markup_renders_literally_in_the_error_dialog(
        qtbot, tab: DrawTab, tmp_path: Path, dialogs) -> None:
    bad = tmp_path / "<h1>huge.onnx"
    bad.write_bytes(np.random.default_rng(2).bytes(500))
    settled(qtbot, tab.primary.picker, lambda: tab.load_model(str(bad)))
    (box,) = dialogs
    assert box.text_format == Qt.TextFormat.PlainText
    assert "<h1>huge.onnx" in box.text
    assert "<h1>huge.onnx" in displayed(box.text, box.text_format)


def test_the_check_itself_catches_markup(qtbot) -> None:
    """`displayed` is what Qt shows: an AutoText label with a tag loses it (the old bug)."""
    label = QLabel("<img src=x> · 7,850 params")
    qtbot.addWidget(label)
    assert label.textFormat() == Qt.TextFormat.AutoText
    assert "<img src=x>" not in displayed(label.text(), label.textFormat())
