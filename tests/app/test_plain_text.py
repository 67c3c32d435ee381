"""Text from files shows as text: a run named like HTML is never rendered as HTML.

Qt guesses rich text for any label, tooltip or message box whose text looks like markup; a run
folder shared by someone else could then show pictures or links. Table cells are painted as
plain text by their delegate; everything else says so explicitly (or is escaped).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6 import QtGui
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QLabel, QMessageBox

from app.compare.runs_table import Col
from app.compare.tab import CompareTab
from core.errors import RunNotFoundError
from core.runs.store import RunStore
from tests.support.compare_helpers import cell, make_run, rising

NAME = "<h1>x</h1><img src=/tmp/picture.png>"


def as_rendered(text: str) -> str:
    """What Qt shows for `text` where it would guess rich text (tooltips, legends)."""
    if not QtGui.Qt.mightBeRichText(text):
        return text
    document = QTextDocument()
    document.setHtml(text)
    return document.toPlainText()


def shows_literally(label: QLabel, text: str) -> bool:
    plain = label.textFormat() == Qt.TextFormat.PlainText
    return plain and text in label.text()


@pytest.fixture
def compare(qtbot) -> tuple[CompareTab, str]:
    store = RunStore()
    run = make_run(store, NAME, "pg-model3", 6874, 18, rising(99.3, 12))
    tab = CompareTab(store)
    qtbot.addWidget(tab)
    tab.refresh()
    tab.select_runs([run.id])
    return tab, run.id


def test_compare_table_tooltips_and_legend_show_the_name_as_text(compare) -> None:
    tab, run_id = compare
    assert cell(tab, run_id, Col.NAME) == NAME  # the delegate paints cells as plain text
    tip = cell(tab, run_id, Col.NAME, Qt.ItemDataRole.ToolTipRole)
    assert as_rendered(tip).startswith(NAME)  # escaped: shows "<h1>…", not a heading
    (curve,) = tab.plots.accuracy_curves()
    assert as_rendered(curve.toolTip()) == NAME
    legend_label = tab.plots.acc_legend.getLabel(curve)
    assert legend_label.item.toPlainText() == NAME  # the legend renders HTML: it got escaped


def test_compare_dialogs_show_the_name_as_text(compare, monkeypatch) -> None:
    tab, _ = compare
    shown: list[QMessageBox] = []

    def capture(box: QMessageBox) -> int:
        shown.append(box)
        return int(QMessageBox.StandardButton.Cancel)

    monkeypatch.setattr(QMessageBox, "exec", capture)
    actions = tab.actions
    assert actions._confirm("Delete runs", f"Delete?\n\n  • {NAME}") is False
    actions._warn("Not deleted", f"Run {NAME} is still training.")
    assert [box.textFormat() for box in shown] == [Qt.TextFormat.PlainText] * 2
    for box in shown:
        label = next(lb for lb in box.findChildren(QLabel) if NAME in lb.text())
        assert shows_literally(label, NAME)


def test_train_tab_error_box_and_progress_show_names_as_text(qtbot, mnist_dir: Path) -> None:
    from app.train.tab import TrainTab

    tab = TrainTab()
    qtbot.addWidget(tab)
    try:
        tab._show_error("Cannot resume", RunNotFoundError(f"No run is called {NAME}."))
        box = tab.error_box
        assert box.textFormat() == Qt.TextFormat.PlainText
        label = next(lb for lb in box.findChildren(QLabel) if NAME in lb.text())
        assert shows_literally(label, NAME)
        box.close()
        tab.progress.busy(f"Resuming {NAME}…")  # what resume_run shows, with the stored name
        assert shows_literally(tab.progress.headline, NAME)
    finally:
        assert tab.shutdown()


def test_data_banner_shows_a_folder_name_as_text(qtbot, tmp_path: Path) -> None:
    from PySide6.QtCore import QSettings

    from app.train.data_banner import DataBanner

    folder = tmp_path / "<b>bold<img src=x.png>"  # '/' cannot be in a folder name
    folder.mkdir()
    banner = DataBanner(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(banner)
    assert not banner.use_folder(str(folder))
    assert folder.name in as_rendered(banner.text.text())
    assert str(folder) in as_rendered(banner.text.toolTip())
