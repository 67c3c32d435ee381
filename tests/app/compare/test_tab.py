"""The Compare tab: the runs table, sorting, badges, overlays, refresh, start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QColor

from app.compare.plots import accuracy_range
from app.compare.runs_table import RUN_ID_ROLE, Col
from app.compare.tab import CompareTab
from app.shared.style import BAD_COLOR, OK_COLOR, series_color
from core.runs.store import RunStore
from tests.support.compare_helpers import (  # plain helpers; fixtures come as a plugin
    REPO,
    cell,
    make_run,
    names_in_view,
    rising,
    train_tiny_run,
)

pytest_plugins = ["tests.support.compare_helpers"]  # the `store` and `tab` fixtures


def test_empty_store_shows_a_friendly_hint(tab: CompareTab) -> None:
    assert tab.stack.currentWidget() is tab.empty_label
    assert "No runs yet" in tab.empty_label.text()
    assert "digitlab-cli train" in tab.empty_label.text()


def test_runs_fill_the_table_with_readable_cells(tab: CompareTab, store: RunStore) -> None:
    run = make_run(store, "s6-model3-se", "s6-model3-se", 7544, 32,
                   rising(99.42, 15, tail=(99.41, 99.45, 99.40)), seconds=61.0, my_digits=92.5)
    tab.refresh()
    assert tab.stack.currentIndex() == 1
    assert names_in_view(tab) == ["s6-model3-se"]
    assert cell(tab, run.id, Col.PARAMS) == "7,544"
    assert cell(tab, run.id, Col.RF) == "32"
    assert cell(tab, run.id, Col.BEST) == "99.45%"
    assert cell(tab, run.id, Col.FINAL) == "99.40%"
    assert cell(tab, run.id, Col.LAST3) == "99.41  99.45  99.40"
    assert cell(tab, run.id, Col.EPOCHS) == "15"
    assert cell(tab, run.id, Col.TIME) == "15m 15s"
    assert cell(tab, run.id, Col.DEVICE) == "H100"
    assert cell(tab, run.id, Col.STATUS) == "completed"
    assert cell(tab, run.id, Col.MY_DIGITS) == "92.5%"
    assert "40 digits" in cell(tab, run.id, Col.MY_DIGITS, Qt.ItemDataRole.ToolTipRole)


def test_sorting_by_best_accuracy_is_numeric(tab: CompareTab, store: RunStore) -> None:
    # As text "100.00%" < "9.80%" < "99.10%"; as numbers the order is 9.8, 99.1, 100.
    make_run(store, "mid", "pg-model3", 6874, 18, [98.0, 99.1])
    make_run(store, "top", "pg-model3", 6874, 18, [99.0, 100.0])
    make_run(store, "low", "pg-model3", 6874, 18, [9.8, 9.8])
    make_run(store, "none", "pg-model3", 6874, 18, [], status="failed")
    tab.refresh()
    tab.show_empty.setChecked(True)  # "none" has no epoch: listed only when asked
    tab.view.sortByColumn(Col.BEST, Qt.SortOrder.AscendingOrder)
    assert names_in_view(tab) == ["none", "low", "mid", "top"]
    tab.view.sortByColumn(Col.BEST, Qt.SortOrder.DescendingOrder)
    assert names_in_view(tab) == ["top", "mid", "low", "none"]
    tab.view.sortByColumn(Col.PARAMS, Qt.SortOrder.AscendingOrder)  # ties keep a stable order
    assert len(names_in_view(tab)) == 4


def test_selecting_two_runs_overlays_their_curves(qtbot, tab: CompareTab,
                                                   store: RunStore) -> None:
    a = make_run(store, "eva5-s4", "eva5-s4", 9274, 46, rising(99.5, 15))
    b = make_run(store, "pg-model3", "pg-model3", 6874, 18, rising(99.3, 12))
    make_run(store, "other", "dl-tiny-1k", 996, 18, rising(98.6, 5))
    tab.refresh()
    tab.show()
    assert tab.plots.stack.currentIndex() == 0  # the hint, before anything is selected
    # Click one row, ctrl-click another: extended selection as a user makes it.
    for i, run in enumerate((a, b)):
        index = tab.proxy.mapFromSource(tab.model.index(tab.model.row_of(run.id), Col.MODEL))
        rect = tab.view.visualRect(index)
        modifier = Qt.KeyboardModifier.ControlModifier if i else Qt.KeyboardModifier.NoModifier
        qtbot.mouseClick(tab.view.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())
    assert set(tab.selected_ids()) == {a.id, b.id}
    curves = tab.plots.accuracy_curves()
    assert len(curves) == 2
    by_name = {c.name(): c for c in curves}
    for run in (a, b):
        x, y = by_name[run.record.name].getData()
        assert list(x) == [m["epoch"] for m in run.record.history]
        assert list(y) == pytest.approx([m["test_acc"] for m in run.record.history])
    colors = {c.opts["pen"].color().name() for c in curves}
    assert colors == {QColor(series_color(0)).name(), QColor(series_color(1)).name()}
    assert len(tab.plots.loss_curves()) == 4  # train and test loss for each run
    low, high = tab.plots.acc_plot.getViewBox().viewRange()[1]
    assert 97.0 <= low < 99.4 < high <= 100.2  # zoomed where the action is, target in view
    # A refresh that changes nothing keeps the curve objects: rebuilt per selection change only.
    tab.refresh()
    assert tab.plots.accuracy_curves() == curves


def test_accuracy_range_zooms_but_keeps_the_target() -> None:
    assert accuracy_range([[97.9, 99.2, 99.4, 99.5]]) == (99.0, 100.0)  # first epoch ignored
    assert accuracy_range([[99.0, 99.3], [98.4, 98.7]]) == (98.0, 100.0)  # 2 epochs: all count
    assert accuracy_range([[60.0, 85.0, 91.0]]) == (80.0, 100.0)
    assert accuracy_range([]) == (97.0, 100.0)


def test_badges_follow_the_seed_targets(tab: CompareTab, store: RunStore) -> None:
    ok = make_run(store, "ok", "s6-model3-se", 7999, 32,
                  rising(99.4, 15, tail=(99.41, 99.45, 99.40)))
    dip = make_run(store, "dip", "s6-model3-se", 8000, 32,
                   rising(99.4, 16, tail=(99.41, 99.39, 99.45)))
    tab.refresh()
    expected = {ok.id: ("✓", "✓", "✓"), dip.id: ("✗", "✗", "✗")}
    for run_id, marks in expected.items():
        for col, mark in zip((Col.HITS_ACC, Col.HITS_PARAMS, Col.HITS_EPOCHS), marks,
                             strict=True):
            assert cell(tab, run_id, col) == mark
            color = cell(tab, run_id, col, Qt.ItemDataRole.ForegroundRole).color().name()
            assert color == QColor(OK_COLOR if mark == "✓" else BAD_COLOR).name()
    tip = cell(tab, dip.id, Col.HITS_ACC, Qt.ItemDataRole.ToolTipRole)
    assert "99.4% in each of the last three epochs" in tip and "99.39%" in tip
    assert "8,000" in cell(tab, dip.id, Col.HITS_PARAMS, Qt.ItemDataRole.ToolTipRole)
    assert "15 epochs" in tab.model.headerData(Col.HITS_EPOCHS, Qt.Orientation.Horizontal,
                                               Qt.ItemDataRole.ToolTipRole)
    assert "1 run" not in tab.summary_label.text() and "1 meets all" in tab.summary_label.text()


def test_refresh_keeps_the_selection_and_finds_new_runs(tab: CompareTab, store: RunStore) -> None:
    a = make_run(store, "a", "pg-model3", 6874, 18, rising(99.3, 12))
    make_run(store, "b", "eva5-s4", 9274, 46, rising(99.5, 15))
    tab.refresh()
    tab.select_runs([a.id])
    make_run(store, "from the CLI", "dl-tiny-1k", 996, 18, rising(98.6, 5))
    tab._poll()  # what the timer does while the tab is visible
    assert tab.proxy.rowCount() == 3 and "from the CLI" in names_in_view(tab)
    assert tab.selected_ids() == [a.id]
    assert [c.name() for c in tab.plots.accuracy_curves()] == ["a"]


def test_selection_shows_colour_swatches_and_multi_select(tab: CompareTab,
                                                          store: RunStore) -> None:
    a = make_run(store, "a", "pg-model3", 6874, 18, rising(99.3, 12))
    b = make_run(store, "b", "eva5-s4", 9274, 46, rising(99.5, 15))
    tab.refresh()
    tab.select_runs([a.id])
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    row_b = tab.proxy.mapFromSource(tab.model.index(tab.model.row_of(b.id), 0))
    tab.view.selectionModel().select(row_b, flags)
    # Each selected run's name carries a dot in its own curve's colour (first selected: colour 0).
    for run, slot in ((a, 0), (b, 1)):
        icon = cell(tab, run.id, Col.NAME, Qt.ItemDataRole.DecorationRole)
        centre = icon.pixmap(12, 12).toImage().pixelColor(6, 6)
        assert centre.name() == QColor(series_color(slot)).name()
    curve_colors = {c.name(): c.opts["pen"].color().name() for c in tab.plots.accuracy_curves()}
    assert curve_colors == {"a": QColor(series_color(0)).name(),
                            "b": QColor(series_color(1)).name()}
    assert tab.proxy.index(0, 0).data(RUN_ID_ROLE) in {a.id, b.id}
    assert not tab.actions.rename.isEnabled() and tab.actions.delete.isEnabled()
    tab.select_runs([b.id])  # a deselected: no dot; b keeps its colour
    assert cell(tab, a.id, Col.NAME, Qt.ItemDataRole.DecorationRole) is None
    icon = cell(tab, b.id, Col.NAME, Qt.ItemDataRole.DecorationRole)
    assert icon.pixmap(12, 12).toImage().pixelColor(6, 6).name() == QColor(series_color(1)).name()


def test_compare_tab_does_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from tests.app.compare.test_tab import make_run, rising\n"
        "from core.runs.store import RunStore\n"
        "from app.compare.tab import CompareTab\n"
        "s = RunStore()\n"
        "ids = [make_run(s, n, n, 7000, 18, rising(99.4, 15), my_digits=90.0).id\n"
        "       for n in ('a', 'b')]\n"
        "tab = CompareTab(s)\n"
        "tab.show()\n"
        "tab.select_runs(ids)\n"
        "tab.actions.markdown()\n"
        "tab.grab()\n"
        "assert len(tab.plots.accuracy_curves()) == 2\n"
        "bad = [m for m in ('torch', 'onnx', 'onnxruntime') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DIGITLAB_HOME=str(tmp_path / "home"))
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_a_real_training_run_shows_up_after_refresh(qtbot, tab: CompareTab, store: RunStore,
                                                    mnist_dir: Path) -> None:
    from app.shared.jobs import live_job_threads

    tab.refresh()
    assert tab.stack.currentWidget() is tab.empty_label
    run, result = train_tiny_run(store, mnist_dir, "tiny real")
    tab.refresh()
    assert names_in_view(tab) == ["tiny real"]
    assert cell(tab, run.id, Col.STATUS) == "completed"
    assert cell(tab, run.id, Col.EPOCHS) == "1"
    assert cell(tab, run.id, Col.FINAL) == f"{result.history[-1].test_acc:.2f}%"
    assert cell(tab, run.id, Col.PARAMS) == f"{run.record.params:,}"
    tab.select_runs([run.id])
    (curve,) = tab.plots.accuracy_curves()
    assert list(curve.getData()[1]) == pytest.approx([result.history[-1].test_acc])
    # Export & try in Draw: a verified ONNX file, made in a worker thread.
    assert tab.actions.try_draw.isEnabled()
    with qtbot.waitSignal(tab.try_in_draw, timeout=120_000) as signal:
        tab.actions.try_draw.trigger()
    assert Path(signal.args[0]).is_file() and signal.args[0].endswith(".onnx")
    qtbot.waitUntil(lambda: not live_job_threads(), timeout=10_000)
    assert not tab.warnings


def test_empty_runs_stay_out_of_the_list_unless_asked(tab: CompareTab, store: RunStore) -> None:
    import os
    import socket

    done = make_run(store, "done", "dl-tiny-1k", 996, 18, [97.1])
    make_run(store, "stopped at once", "dl-flagship-8k", 7604, 18, [], status="stopped",
             planned=15)
    make_run(store, "no network", "dl-flagship-8k", 7604, 18, [], status="failed", planned=15)
    starting = make_run(store, "starting", "dl-flagship-8k", 7604, 18, [], status="running",
                        pid=os.getpid(), host=socket.gethostname(), planned=15)
    tab.refresh()
    assert sorted(names_in_view(tab)) == ["done", "starting"]  # a run still starting stays
    assert "2 runs" in tab.summary_label.text()
    assert "2 empty runs hidden" in tab.summary_label.text()
    tab.show_empty.setChecked(True)
    assert sorted(names_in_view(tab)) == ["done", "no network", "starting", "stopped at once"]
    assert "4 runs" in tab.summary_label.text() and "hidden" not in tab.summary_label.text()
    tab.select_runs([done.id, starting.id])
    tab.show_empty.setChecked(False)
    assert set(tab.selected_ids()) == {done.id, starting.id}


def test_a_run_without_epochs_is_not_judged(tab: CompareTab, store: RunStore) -> None:
    empty = make_run(store, "empty", "dl-flagship-8k", 7604, 18, [], status="stopped",
                     planned=15)
    tab.show_empty.setChecked(True)
    tab.refresh()
    assert cell(tab, empty.id, Col.HITS_EPOCHS) == "–"  # 0 epochs: no result, not ✗ (or ✓)
    assert cell(tab, empty.id, Col.HITS_ACC) == "–"
    assert cell(tab, empty.id, Col.HITS_PARAMS) == "✓"  # the model's size is known anyway
    tip = cell(tab, empty.id, Col.HITS_EPOCHS, Qt.ItemDataRole.ToolTipRole)
    assert "No epoch trained yet" in tip
    color = cell(tab, empty.id, Col.HITS_EPOCHS, Qt.ItemDataRole.ForegroundRole).color().name()
    assert color not in (QColor(OK_COLOR).name(), QColor(BAD_COLOR).name())


def test_a_one_epoch_run_shows_its_points(tab: CompareTab, store: RunStore) -> None:
    run = make_run(store, "one", "dl-tiny-1k", 996, 18, [97.1])
    tab.refresh()
    tab.select_runs([run.id])
    curves = tab.plots.accuracy_curves() + tab.plots.loss_curves()
    assert len(curves) == 3
    for curve in curves:  # a single epoch has no line: only its marker can show it
        assert len(curve.getData()[0]) == 1 and curve.opts["symbol"] == "o"
