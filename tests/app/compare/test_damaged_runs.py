"""Damaged runs in the Compare tab (issue 12.2): each is a row that says what is wrong, shows no
number, takes part in nothing but Delete; the healthy runs beside it keep working.

Every store here is real: folders on disk as a crash, an older version or another tool leaves
them (tests/support/compare_helpers.py: DAMAGE), read through `RunStore.list_runs()`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6 import QtGui
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QTextDocument

from app.compare.run_cells import DAMAGED
from app.compare.runs_table import Col, RunsTableModel
from app.compare.tab import CompareTab
from app.shared.style import BAD_COLOR
from core.runs.record import DamagedRun, read_record
from core.runs.store import RunStore
from tests.support.compare_helpers import (  # plain helpers; fixtures come as a plugin
    DAMAGE,
    REPO,
    cell,
    make_damaged_runs,
    make_run,
    names_in_view,
    rising,
)

pytest_plugins = ["tests.support.compare_helpers"]  # the `store` and `tab` fixtures

ROLES = [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole, Qt.ItemDataRole.ToolTipRole,
         Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.FontRole,
         Qt.ItemDataRole.TextAlignmentRole, Qt.ItemDataRole.DecorationRole,
         Qt.ItemDataRole.UserRole + 1, Qt.ItemDataRole.UserRole + 2]


def rendered(text: str) -> str:
    """What Qt shows for a tooltip: rich text when it looks like markup."""
    if not QtGui.Qt.mightBeRichText(text):
        return text
    document = QTextDocument()
    document.setHtml(text)
    return document.toPlainText()


@pytest.fixture
def mixed(store: RunStore) -> tuple[list[str], dict[str, str]]:
    """Two healthy runs and one damaged folder of every kind."""
    healthy = [make_run(store, "good one", "dl-flagship-8k", 7810, 22, rising(99.45, 15)).id,
               make_run(store, "good two", "dl-tiny-1k", 980, 14, rising(98.9, 8),
                        status="stopped", planned=15).id]
    return healthy, make_damaged_runs(store)


def test_every_damaged_run_is_a_row_saying_what_is_wrong(tab: CompareTab, store: RunStore,
                                                         mixed) -> None:
    _, damaged = mixed
    tab.refresh()
    reasons = {d.id: d.reason for d in store.damaged()}
    assert sorted(reasons) == sorted(damaged.values())  # the core sees each as damaged
    assert set(names_in_view(tab)[:2]) == {"good one", "good two"}  # healthy ones, newest first
    for kind, run_id in damaged.items():
        assert cell(tab, run_id, Col.NAME) == f"damaged: {reasons[run_id]}", kind
        assert cell(tab, run_id, Col.STATUS) == DAMAGED
        numbers = [cell(tab, run_id, c) for c in Col if c not in (Col.NAME, Col.STATUS)]
        assert numbers == [""] * len(numbers), kind  # nothing from an untrusted record
        assert QColor(cell(tab, run_id, Col.NAME, Qt.ItemDataRole.ForegroundRole).color()) == \
            QColor(BAD_COLOR)
        tip = rendered(cell(tab, run_id, Col.MODEL, Qt.ItemDataRole.ToolTipRole))
        assert run_id in tip and reasons[run_id] in tip and "Delete" in tip
    # A folder name is text from disk: shown literally, never as markup.
    odd = store.root / "<b>bold<b><img src=x>"
    odd.mkdir()
    (odd / "run.json").write_text("{")
    os.utime(odd, (1_000_000_000, 1_000_000_000))
    tab.refresh()
    assert odd.name in rendered(cell(tab, odd.name, Col.NAME, Qt.ItemDataRole.ToolTipRole))
    store.delete(odd.name)
    tab.refresh()
    label = tab.summary_label.text()
    assert label.startswith("2 runs") and f"{len(DAMAGE)} damaged" in label
    # Sorting by a number column with damaged rows in it: numbers stay numbers.
    tab.view.sortByColumn(Col.BEST, Qt.SortOrder.DescendingOrder)
    assert names_in_view(tab)[:2] == ["good one", "good two"]
    assert all(n.startswith("damaged: ") for n in names_in_view(tab)[2:])
    # The filter finds them by their status.
    tab.filter_edit.setText("damaged")
    assert len(names_in_view(tab)) == len(DAMAGE)


def test_damaged_runs_take_part_in_nothing_but_delete(qtbot, tab: CompareTab, store: RunStore,
                                                      mixed) -> None:
    healthy, damaged = mixed
    tab.refresh()
    a = tab.actions
    tab.select_runs([damaged["truncated"]])
    assert a.delete.isEnabled()
    assert not any(x.isEnabled() for x in (a.resume, a.rename, a.score, a.try_draw))
    name_cell = tab.proxy.mapFromSource(tab.model.index(tab.model.row_of(damaged["truncated"]),
                                                        Col.NAME))
    assert not tab.proxy.flags(name_cell) & Qt.ItemFlag.ItemIsEditable
    # Every run selected: only the healthy ones are plotted and exported.
    tab.select_runs([*healthy, *damaged.values()])
    assert tab.selected_ids() and len(tab.selected_ids()) == 2 + len(DAMAGE)
    assert sorted(r.id for r in tab.selected_records()) == sorted(healthy)
    assert len(tab.plots.accuracy_curves()) == 2
    markdown = a.markdown()
    assert "| good one |" in markdown and "| good two |" in markdown
    assert "damaged" not in markdown
    tab.select_runs([damaged["config a list"], healthy[0]])  # one damaged, one healthy
    assert a.delete.isEnabled() and not a.resume.isEnabled() and not a.rename.isEnabled()
    assert a.score.isEnabled()  # scores the healthy one only (it drops the damaged)


def test_delete_asks_then_removes_damaged_folders_only(qtbot, tab: CompareTab, store: RunStore,
                                                       mixed) -> None:
    healthy, damaged = mixed
    tab.refresh()
    doomed = [damaged["truncated"], damaged["no run.json"], damaged["history a string"]]
    tab.select_runs(doomed)
    asked: list[str] = []
    tab.actions._confirm = lambda title, text: asked.append(text) or False  # Cancel
    tab.actions.delete.trigger()
    assert all((store.root / d).is_dir() for d in doomed)
    tab.actions._confirm = lambda title, text: asked.append(text) or True
    tab.actions.delete.trigger()
    assert all(d in asked[0] for d in doomed) and "damaged: " in asked[0]
    assert not any((store.root / d).exists() for d in doomed) and not tab.warnings
    assert all((store.root / h).is_dir() for h in healthy)
    qtbot.waitUntil(lambda: len(names_in_view(tab)) == 2 + len(DAMAGE) - len(doomed))
    assert {d.id for d in store.damaged()} == set(damaged.values()) - set(doomed)
    tab.show()
    tab.activateWindow()  # shortcuts only fire in the active window
    qtbot.waitUntil(tab.isActiveWindow)
    tab.select_runs(list(set(damaged.values()) - set(doomed)))  # the rest, with the Delete key
    tab.view.setFocus()
    qtbot.keyClick(tab.view, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: sorted(names_in_view(tab)) == ["good one", "good two"])
    assert not store.damaged()


def test_an_empty_checkpoint_is_no_checkpoint(tab: CompareTab, store: RunStore) -> None:
    """Try in Draw asks the store (a 0-byte best.pt or last.pt cannot be exported or resumed)."""
    whole = make_run(store, "whole", "dl-tiny-1k", 980, 14, rising(98.9, 3))
    empty = make_run(store, "empty", "dl-tiny-1k", 980, 14, rising(98.9, 3), status="stopped",
                     planned=15)
    for kind in ("best", "last"):
        empty.checkpoint_path(kind).write_bytes(b"")
    tab.refresh()
    tab.select_runs([whole.id])
    assert tab.actions.try_draw.isEnabled()
    tab.select_runs([empty.id])
    assert cell(tab, empty.id, Col.STATUS) == "stopped"  # healthy record, unusable files
    assert not tab.actions.try_draw.isEnabled() and not tab.actions.resume.isEnabled()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
              st.text(max_size=12)),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.sampled_from(
                                   ["name", "model", "config", "created", "status", "history",
                                    "epochs_done", "scores", "params", "env", "error", "x"]),
                                   children, max_size=6)), max_leaves=16))
def test_any_run_json_gives_a_row_every_cell_can_show(qtbot, tmp_path: Path, data) -> None:
    folder = tmp_path / "runs" / "r"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").write_text(json.dumps(data))
    os.utime(folder, (1_000_000_000, 1_000_000_000))
    entry = read_record(folder)
    model = RunsTableModel()
    model.set_records([entry])
    for col in Col:
        for role in ROLES:
            model.index(0, col).data(role)  # must not raise, whatever the record holds
    if isinstance(entry, DamagedRun):
        assert model.index(0, Col.STATUS).data() == DAMAGED


def test_the_app_starts_on_the_compare_tab_with_damaged_runs(tmp_path: Path) -> None:
    """The real entry point (`python -m app`), a store of damaged runs of every kind, the
    Compare tab current: the window comes up (the issue: it exited at start)."""
    home = tmp_path / "home"
    store = RunStore(home / "runs")
    make_run(store, "good", "dl-tiny-1k", 980, 14, rising(98.9, 3))
    made = make_damaged_runs(store)
    settings_dir = tmp_path / "xdg"
    (settings_dir / "DigitLab").mkdir(parents=True)
    (settings_dir / "DigitLab" / "DigitLab.conf").write_text("[window]\ntab=1\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "DIGITLAB_HOME": str(home),
           "XDG_CONFIG_HOME": str(settings_dir)}
    out = subprocess.run([sys.executable, "-m", "app", "--startup-time"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "window usable after" in out.stdout and "Traceback" not in out.stderr
    assert {d.id for d in store.damaged()} == set(made.values())  # listed, never touched


def test_the_main_window_lists_and_deletes_damaged_runs(qtbot, store: RunStore, mixed) -> None:
    from app.shared.settings import app_settings
    from app.window import MainWindow

    _, damaged = mixed
    app_settings().setValue("window/tab", 1)  # opens on Compare (the Train tab's jobs stay idle)
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    compare = window.compare_tab
    assert window.tabs.currentWidget() is compare
    assert sum(n.startswith("damaged: ") for n in names_in_view(compare)) == len(DAMAGE)
    compare.actions._confirm = lambda title, text: True  # type: ignore[method-assign]
    compare.select_runs([damaged["not UTF-8"]])
    compare.actions.delete.trigger()
    qtbot.waitUntil(lambda: len(names_in_view(compare)) == 1 + len(DAMAGE))
    assert not (store.root / damaged["not UTF-8"]).exists()
    window.tabs.setCurrentIndex(2)  # the other tabs work beside them
    window.tabs.setCurrentIndex(1)
    assert window.close()
