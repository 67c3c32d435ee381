"""The Compare tab's experiments window: recipes as groups, verdicts, the sweep plot, export."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pyqtgraph as pg

from app.compare import experiments_view
from app.compare.experiments_view import ExperimentsView
from app.compare.tab import CompareTab
from core.experiments.spec import ExperimentSpec, SearchSpec
from core.experiments.storage import ExperimentStore
from core.runs.store import RunStore
from tests.core.experiments.helpers import recorded_trial

pytest_plugins = ["tests.support.compare_helpers"]  # the `store` and `tab` fixtures


def sweep(store: RunStore) -> tuple[ExperimentStore, list[str]]:
    experiments = ExperimentStore(store)
    spec = ExperimentSpec("lr-sweep", seeds=[0, 1], description="learning rate",
                          search=SearchSpec("grid", {"lr": [0.01, 0.02]}))
    spec.validate()
    experiments.save(spec)
    experiments.save_points(spec.name, spec.grid_points())
    ids = []
    for key, val in (("p000-s0", 98.0), ("p000-s1", 98.1), ("p001-s0", 98.9),
                     ("p001-s1", 99.0)):
        ids.append(recorded_trial(store, spec.name, key, [99.0, 99.5, 99.5], [val] * 3))
    return experiments, ids


def test_groups_verdicts_and_the_sweep_plot(qtbot, store: RunStore) -> None:
    experiments, ids = sweep(store)
    view = ExperimentsView(experiments)
    qtbot.addWidget(view)
    assert view.experiment_box.currentText() == "lr-sweep"
    assert view.groups.rowCount() == 2
    row = [view.groups.item(0, c).text() for c in range(view.groups.columnCount())]
    assert row == ["lr=0.01", "2/2", "99.50 ± 0.00%", "99.50%", "99.50%", "98.05 ± 0.07%",
                   "0/2"]  # 99.0 in the third-to-last epoch: not consistent
    text = view.verdict_label.text()
    assert "• lr=0.02 is better than lr=0.01 by 0.90 ± 0.30 points" in text
    assert "Chosen on validation accuracy: lr=0.02 (98.95 ± 0.07)." in text
    assert view.setting_box.currentText() == "lr"
    scatter = [i for i in view.plot.getPlotItem().items if isinstance(i, pg.ScatterPlotItem)]
    xs, ys = scatter[0].getData()
    assert sorted(zip(xs, ys, strict=True)) == [(0.01, 98.0), (0.01, 98.1), (0.02, 98.9),
                                                (0.02, 99.0)]
    chosen = []
    view.runs_chosen.connect(chosen.append)
    view.select_button.click()
    assert chosen == [ids]


def test_export_writes_the_markdown_report(qtbot, store: RunStore, tmp_path: Path,
                                           monkeypatch) -> None:
    experiments, _ = sweep(store)
    target = tmp_path / "out" / "lr.md"
    monkeypatch.setattr(experiments_view, "save_file", lambda *a, **k: target)
    view = ExperimentsView(experiments)
    qtbot.addWidget(view)
    view.export_button.click()  # written in a job: the window stays responsive
    assert view.export_button.text() == "Exporting…"
    qtbot.waitUntil(lambda: not view.jobs.busy, timeout=30_000)
    text = target.read_text()
    assert text.startswith("# Experiment lr-sweep") and "| lr=0.02 | 2/2 |" in text
    if importlib.util.find_spec("matplotlib"):  # the curves PNG beside it, linked
        assert "](lr-curves.png)" in text
        assert (target.parent / "lr-curves.png").read_bytes()[:4] == b"\x89PNG"
    assert view.export_button.isEnabled() and view.export_button.text() == "Export Markdown…"


def test_an_empty_store_says_how_to_start(qtbot, tmp_path: Path) -> None:
    view = ExperimentsView(ExperimentStore(RunStore(tmp_path / "runs")))
    qtbot.addWidget(view)
    assert "Run N seeds" in view.about_label.text()
    assert not view.export_button.isEnabled()


def test_the_compare_tab_opens_experiments_and_selects_their_runs(
        qtbot, tab: CompareTab, store: RunStore) -> None:
    _, ids = sweep(store)
    tab.refresh()
    button = next(b for b in tab.findChildren(experiments_view.QToolButton)
                  if b.text() == "Experiments…")
    button.click()
    dialog = tab._experiments_dialog
    assert dialog.isVisible() and dialog.view.groups.rowCount() == 2
    dialog.view.select_button.click()
    assert sorted(tab.selected_ids()) == sorted(ids)
    dialog.close()
