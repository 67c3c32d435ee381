"""The Compare tab's actions: rename, delete, resume, Markdown, score on My digits."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLineEdit

from app.compare.runs_table import Col
from app.compare.tab import CompareTab
from core.runs.store import RunStore
from tests.support.compare_helpers import (  # plain helpers; fixtures come as a plugin
    cell,
    dead_pid,
    make_run,
    names_in_view,
    rising,
    train_tiny_run,
)

pytest_plugins = ["tests.support.compare_helpers"]  # the `store` and `tab` fixtures


def test_rename_in_the_name_cell_persists(qtbot, tab: CompareTab, store: RunStore) -> None:
    run = make_run(store, "pg-model3", "pg-model3", 6874, 18, rising(99.3, 12))
    tab.refresh()
    tab.show()
    tab.select_runs([run.id])
    tab.actions.rename.trigger()  # opens the editor on the name cell, like F2 or a double-click
    editor = next(e for e in tab.view.findChildren(QLineEdit) if e.isVisible())
    editor.selectAll()
    qtbot.keyClicks(editor, "pg-model3 lr=0.1")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: names_in_view(tab) == ["pg-model3 lr=0.1"])
    assert RunStore().get(run.id).record.name == "pg-model3 lr=0.1"
    assert tab.selected_ids() == [run.id]


def test_rename_is_refused_while_the_run_trains(tab: CompareTab, store: RunStore) -> None:
    run = make_run(store, "busy", "dl-flagship-8k", 7604, 18, [98.0], status="running",
                   pid=os.getpid(), host=socket.gethostname(), planned=15)
    tab.refresh()
    tab.proxy.setData(tab.proxy.index(0, Col.NAME), "new name")
    assert tab.warnings and "after its training ends" in tab.warnings[0]
    assert RunStore().get(run.id).record.name == "busy"


def test_delete_asks_then_removes_the_folder(qtbot, tab: CompareTab, store: RunStore) -> None:
    keep = make_run(store, "keep", "eva5-s4", 9274, 46, rising(99.5, 15))
    gone = make_run(store, "gone", "pg-model3", 6874, 18, rising(99.3, 12))
    tab.refresh()
    tab.select_runs([gone.id])
    tab.actions._confirm = lambda title, text: False  # Cancel: nothing happens
    tab.actions.delete.trigger()
    assert gone.dir.is_dir()
    asked: list[str] = []
    tab.actions._confirm = lambda title, text: asked.append(text) or True
    tab.actions.delete.trigger()
    assert "gone" in asked[0]
    assert not gone.dir.exists() and keep.dir.is_dir()
    qtbot.waitUntil(lambda: names_in_view(tab) == ["keep"])  # the tab re-reads the store


def test_delete_refuses_a_running_run_with_the_core_message(tab: CompareTab,
                                                            store: RunStore) -> None:
    run = make_run(store, "busy", "dl-flagship-8k", 7604, 18, [98.0], status="running",
                   pid=os.getpid(), host=socket.gethostname(), planned=15)
    tab.refresh()
    tab.select_runs([run.id])
    tab.actions.delete.trigger()
    assert run.dir.is_dir()
    assert tab.warnings and "still training; stop it before deleting" in tab.warnings[0]


def test_markdown_export_lists_selected_or_all_runs(qtbot, tab: CompareTab, store: RunStore,
                                                    tmp_path: Path, monkeypatch) -> None:
    a = make_run(store, "s6-model3-se", "s6-model3-se", 7544, 32, rising(99.42, 15))
    make_run(store, "eva5-s4", "eva5-s4", 9274, 46, rising(99.5, 15))
    tab.refresh()
    out = tmp_path / "results.md"
    monkeypatch.setattr("PySide6.QtWidgets.QFileDialog.getSaveFileName",
                        lambda *args, **kwargs: (str(out), "Markdown (*.md)"))
    with qtbot.waitSignal(tab.status_message):
        tab.actions.save_markdown.trigger()
    text = out.read_text(encoding="utf-8")
    assert text.startswith("| Run | Model | Params |")
    assert "| s6-model3-se | s6-model3-se | 7,544 |" in text and "| eva5-s4 |" in text
    tab.select_runs([a.id])
    tab.actions.copy_markdown.trigger()
    copied = QGuiApplication.clipboard().text()
    assert "| s6-model3-se |" in copied and "eva5-s4" not in copied


def test_an_interrupted_run_offers_resume(qtbot, tab: CompareTab, store: RunStore) -> None:
    run = make_run(store, "killed", "dl-flagship-8k", 7604, 18, rising(99.3, 6), status="running",
                   pid=dead_pid(), host=socket.gethostname(), planned=15)
    done = make_run(store, "done", "dl-flagship-8k", 7604, 18, rising(99.4, 15))
    tab.refresh()
    assert cell(tab, run.id, Col.STATUS) == "interrupted"
    assert cell(tab, run.id, Col.EPOCHS) == "6/15"
    assert "Resume" in cell(tab, run.id, Col.STATUS, Qt.ItemDataRole.ToolTipRole)
    tab.select_runs([done.id])
    assert not tab.actions.resume.isEnabled()
    tab.select_runs([run.id])
    assert tab.actions.resume.isEnabled()
    with qtbot.waitSignal(tab.resume_requested) as signal:
        tab.actions.resume.trigger()
    assert signal.args == [run.id]


def test_a_score_on_other_digits_is_marked_out_of_date(tab: CompareTab, store: RunStore,
                                                       mnist) -> None:
    from core.data.my_digits import MyDigits

    MyDigits().add(mnist.test_images[0], int(mnist.test_labels[0]))  # the set has changed
    run = make_run(store, "old score", "pg-model3", 6874, 18, rising(99.3, 12), my_digits=90.0)
    run.record.scores["my_digits"]["fingerprint"] = "a set of digits from before"
    run.save_record()
    tab.refresh()
    assert "changed since" in cell(tab, run.id, Col.MY_DIGITS, Qt.ItemDataRole.ToolTipRole)


def test_scoring_a_real_run_on_real_my_digits(qtbot, tab: CompareTab, store: RunStore,
                                              mnist, mnist_dir: Path) -> None:
    from app.shared.jobs import live_job_threads
    from core.data.my_digits import MyDigits

    digits = MyDigits()
    for image, label in zip(mnist.test_images[:20], mnist.test_labels[:20], strict=True):
        digits.add(image, int(label))  # MNIST's own digits stand in for drawn ones
    run, _ = train_tiny_run(store, mnist_dir, "tiny scored")
    tab.refresh()
    tab.select_runs([run.id])
    tab.actions.score.trigger()
    qtbot.waitUntil(lambda: not tab.is_busy() and not live_job_threads(), timeout=60_000)
    assert not tab.warnings
    score = RunStore().get(run.id).record.scores["my_digits"]
    assert score["n"] == 20
    qtbot.waitUntil(lambda: cell(tab, run.id, Col.MY_DIGITS) == f"{score['accuracy']:.1f}%")


def test_delete_key_asks_in_the_table_but_edits_in_the_name_editor(qtbot, tab: CompareTab,
                                                                   store: RunStore) -> None:
    run = make_run(store, "abc", "pg-model3", 6874, 18, rising(99.3, 12))
    tab.refresh()
    tab.show()
    tab.activateWindow()  # shortcuts only fire in the active window
    qtbot.waitUntil(tab.isActiveWindow)
    tab.select_runs([run.id])
    asked: list[str] = []
    tab.actions._confirm = lambda title, text: asked.append(text) or False
    tab.actions.rename.trigger()
    editor = next(e for e in tab.view.findChildren(QLineEdit) if e.isVisible())
    editor.setCursorPosition(0)
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    assert editor.text() == "bc" and not asked
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    tab.view.setFocus()
    qtbot.keyClick(tab.view, Qt.Key.Key_Delete)
    assert asked and "abc" in asked[0]
