"""The Compare tab over a real run store: stored runs (no training) plus one real tiny run."""

from __future__ import annotations

import importlib.machinery
import math
import os
import socket
import subprocess
import sys
import types
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import QLineEdit

from app.compare_actions import my_digits_available
from app.compare_plots import accuracy_range
from app.compare_tab import CompareTab
from app.runs_table import RUN_ID_ROLE, Col
from app.style import BAD_COLOR, OK_COLOR, series_color
from core.runs import Run, RunStore

REPO = Path(__file__).resolve().parent.parent


def make_run(store: RunStore, name: str, model: str, params: int, rf: int,
             accs: list[float], *, status: str = "completed", planned: int | None = None,
             device: str = "NVIDIA H100 80GB HBM3 (cuda:0)", seconds: float = 4.2,
             pid: int = 0, host: str = "", my_digits: float | None = None) -> Run:
    """A stored run with a plausible history, written through the real store (no training)."""
    epochs = len(accs)
    run = store.create({"model": model, "epochs": planned or epochs, "batch_size": 128},
                       params=params, receptive_field=rf, env={"device": device}, name=name)
    for e, acc in enumerate(accs, start=1):
        # Losses fall roughly as the error rate does; train loss sits above test loss (augmented).
        err = max(100.0 - acc, 0.05) / 100.0
        run.record.history.append({
            "epoch": e, "train_loss": 2.2 * err + 0.02 + 0.25 * math.exp(-e),
            "train_acc": acc - 0.6, "test_loss": 0.32 * err + 0.004, "test_acc": acc,
            "val_loss": None, "val_acc": None, "lr": 0.05, "seconds": seconds,
            "samples_per_s": 60000 / seconds})
    run.record.epochs_done = epochs
    run.record.status, run.record.pid, run.record.host = status, pid, host
    if my_digits is not None:
        run.record.scores["my_digits"] = {"accuracy": my_digits, "n": 40,
                                          "when": "2025-01-05T10:00:00+00:00"}
    run.save_record()
    return run


def rising(final: float, n: int, start: float = 97.6, tail: tuple[float, ...] = ()) -> list[float]:
    """n epoch accuracies rising from `start` toward `final`, optionally ending with `tail`."""
    body = [round(final - (final - start) * math.exp(-(e / 2.2)), 2) for e in range(n - len(tail))]
    return body + list(tail)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def store() -> RunStore:
    return RunStore()


@pytest.fixture
def tab(qtbot, store: RunStore) -> CompareTab:
    widget = CompareTab(store)
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    # Dialogs answer themselves: Yes to confirmations, warnings collected for the asserts.
    widget.actions._confirm = lambda title, text: True  # type: ignore[method-assign]
    widget.warnings = []  # type: ignore[attr-defined]
    widget.actions._warn = lambda title, text: widget.warnings.append(text)  # type: ignore
    return widget


def names_in_view(tab: CompareTab) -> list[str]:
    return [tab.proxy.index(r, Col.NAME).data() for r in range(tab.proxy.rowCount())]


def cell(tab: CompareTab, run_id: str, col: Col, role=Qt.ItemDataRole.DisplayRole):
    return tab.model.index(tab.model.row_of(run_id), col).data(role)


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
    monkeypatch.setattr("app.compare_actions.QFileDialog.getSaveFileName",
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


def install_fake_my_digits(monkeypatch, accuracy: float = 87.5) -> None:
    """Stands in for the Draw tab's core.my_digits: its score_run contract, without torch."""
    module = types.ModuleType("core.my_digits")
    module.__spec__ = importlib.machinery.ModuleSpec("core.my_digits", None)

    class MyDigits:
        def count(self) -> int:
            return 30

        def fingerprint(self) -> str:
            return "abc123"

    def score_run(run: Run) -> None:
        run.record.scores["my_digits"] = {"accuracy": accuracy, "n": 30, "fingerprint": "abc123",
                                          "when": "2025-01-06T09:30:00+00:00"}
        run.save_record()

    module.MyDigits, module.score_run = MyDigits, score_run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "core.my_digits", module)


def test_score_on_my_digits_runs_in_a_worker_and_fills_the_column(
        qtbot, tab: CompareTab, store: RunStore, monkeypatch) -> None:
    from app.workers import live_workers

    install_fake_my_digits(monkeypatch)
    run = make_run(store, "pg-model3", "pg-model3", 6874, 18, rising(99.3, 12))
    tab.refresh()
    assert cell(tab, run.id, Col.MY_DIGITS) == "–"
    tab.select_runs([run.id])
    assert tab.actions.score.isEnabled()
    tab.actions.score.trigger()
    qtbot.waitUntil(lambda: not tab.is_busy() and not live_workers(), timeout=10_000)
    qtbot.waitUntil(lambda: cell(tab, run.id, Col.MY_DIGITS) == "87.5%")
    assert not tab.warnings
    assert RunStore().get(run.id).record.scores["my_digits"]["n"] == 30


def test_a_score_on_other_digits_is_marked_out_of_date(tab: CompareTab, store: RunStore,
                                                       monkeypatch) -> None:
    install_fake_my_digits(monkeypatch)  # the set's fingerprint is now "abc123"
    run = make_run(store, "old score", "pg-model3", 6874, 18, rising(99.3, 12), my_digits=90.0)
    run.record.scores["my_digits"]["fingerprint"] = "before"
    run.save_record()
    tab.refresh()
    assert "changed since" in cell(tab, run.id, Col.MY_DIGITS, Qt.ItemDataRole.ToolTipRole)


def test_selection_shows_colour_swatches_and_multi_select(tab: CompareTab,
                                                          store: RunStore) -> None:
    a = make_run(store, "a", "pg-model3", 6874, 18, rising(99.3, 12))
    b = make_run(store, "b", "eva5-s4", 9274, 46, rising(99.5, 15))
    tab.refresh()
    tab.select_runs([a.id])
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    row_b = tab.proxy.mapFromSource(tab.model.index(tab.model.row_of(b.id), 0))
    tab.view.selectionModel().select(row_b, flags)
    assert cell(tab, a.id, Col.NAME, Qt.ItemDataRole.DecorationRole) is not None
    assert cell(tab, b.id, Col.NAME, Qt.ItemDataRole.DecorationRole) is not None
    assert tab.proxy.index(0, 0).data(RUN_ID_ROLE) in {a.id, b.id}
    assert not tab.actions.rename.isEnabled() and tab.actions.delete.isEnabled()


def test_compare_tab_does_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from tests.test_compare_tab import make_run, rising\n"
        "from core.runs import RunStore\n"
        "from app.compare_tab import CompareTab\n"
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


def train_tiny_run(store: RunStore, mnist_dir: Path, name: str):  # -> (Run, TrainResult)
    """A real one-epoch run of the smallest zoo model on 500 images: a second or two on a CPU."""
    from core.config import TrainConfig
    from core.models import build_model
    from core.summary import summarize
    from core.train import train

    config = TrainConfig(model="dl-tiny-1k", device="cpu", epochs=1, train_subset=500,
                         test_subset=100, batch_size=50, data_dir=str(mnist_dir))
    summary = summarize(build_model(config.model))
    run = store.create(config.to_dict(), params=summary.total_params,
                       receptive_field=summary.receptive_field, name=name)
    return run, train(config, run=run)


def test_a_real_training_run_shows_up_after_refresh(qtbot, tab: CompareTab, store: RunStore,
                                                    mnist_dir: Path) -> None:
    from app.workers import live_workers

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
    qtbot.waitUntil(lambda: not live_workers(), timeout=10_000)
    assert not tab.warnings


@pytest.mark.skipif(not my_digits_available(),
                    reason="core.my_digits (the Draw tab's score_run) is not in the tree yet; "
                           "the button is wired to it and tested above with a stand-in")
def test_scoring_a_real_run_on_real_my_digits(qtbot, tab: CompareTab, store: RunStore,
                                              mnist, mnist_dir: Path) -> None:
    from app.workers import live_workers
    from core.my_digits import MyDigits

    digits = MyDigits()
    for image, label in zip(mnist.test_images[:20], mnist.test_labels[:20], strict=True):
        digits.add(image, int(label))  # MNIST's own digits stand in for drawn ones
    run, _ = train_tiny_run(store, mnist_dir, "tiny scored")
    tab.refresh()
    tab.select_runs([run.id])
    tab.actions.score.trigger()
    qtbot.waitUntil(lambda: not tab.is_busy() and not live_workers(), timeout=60_000)
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
