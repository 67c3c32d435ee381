"""The Experiments window for issues 25 and 26.2: seed bands with a toggle to the single runs,
a sweep's parallel coordinates and importance, trials exported as CSV, an experiment deleted,
and a final-figures axis that never keeps another experiment's ticks or an "x0.001" scale."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtWidgets import QMessageBox

from app.compare import experiments_view
from app.compare.experiments_view import ExperimentsView
from core.experiments.spec import ExperimentSpec, SearchSpec
from core.experiments.storage import ExperimentStore
from core.runs.store import RunStore
from tests.core.experiments.helpers import recorded_trial

SHOTS = os.environ.get("DIGITLAB_SHOTS", "")


def _grid(experiments: ExperimentStore) -> None:
    """augment × lr over seeds 0-1: lr decides; finals differ per seed."""
    spec = ExperimentSpec("grid", seeds=[0, 1], search=SearchSpec(
        "grid", {"augment": [0.0, 0.5], "lr": [0.001, 0.002]}))
    spec.validate()
    experiments.save(spec)
    experiments.save_points(spec.name, spec.grid_points())
    for point in spec.grid_points():
        for seed in spec.seeds:
            final = 90.0 + 5 * (point.values["lr"] == 0.002) + seed + point.values["augment"]
            recorded_trial(experiments.runs, spec.name, f"p{point.index:03d}-s{seed}",
                           [final - 3, final], [final - 4, final - 1])


def _recipes(experiments: ExperimentStore) -> None:
    """Named recipes only (a categorical axis), one seed each."""
    spec = ExperimentSpec("ab", seeds=[0], variants={"A": {"augment": 1.0}, "B": {"augment": 0.2}})
    spec.validate()
    experiments.save(spec)
    experiments.save_points(spec.name, spec.grid_points())
    for point in spec.grid_points():
        recorded_trial(experiments.runs, spec.name, f"p{point.index:03d}-s0", [97.0, 98.0],
                       [96.0, 97.0])


def _view(qtbot, tmp_path: Path) -> ExperimentsView:
    experiments = ExperimentStore(RunStore(tmp_path / "runs"))
    _grid(experiments)
    _recipes(experiments)
    view = ExperimentsView(experiments)
    qtbot.addWidget(view)
    view.resize(1100, 800)
    view.show()
    return view


def _settle(qtbot, view: ExperimentsView) -> None:
    qtbot.waitUntil(lambda: not view.insight.jobs.busy, timeout=30_000)


def test_switching_experiments_refits_the_final_figures_axis(qtbot, tmp_path: Path) -> None:
    view = _view(qtbot, tmp_path)
    view.experiment_box.setCurrentText("ab")
    bottom = view.plot.getAxis("bottom")
    assert bottom.labelText == "recipe"
    assert [t[1] for t in bottom._tickLevels[0]] == ["A", "B"]  # one slot per recipe
    view.experiment_box.setCurrentText("grid")
    _settle(qtbot, view)
    assert bottom.labelText == "augment" and bottom._tickLevels is None  # numbers: own ticks
    assert not bottom.autoSIPrefix and not view.plot.getAxis("left").autoSIPrefix
    scatter = next(i for i in view.plot.getPlotItem().items if isinstance(i, pg.ScatterPlotItem))
    xs, _ = scatter.getData()
    assert sorted(set(xs)) == [0.0, 0.5]  # drawn at their values, not at old category slots
    view.plot.getPlotItem().getViewBox().autoRange()
    assert bottom.autoSIPrefixScale == 1.0  # never "(x0.001)"


def test_bands_per_recipe_and_the_toggle_to_single_runs(qtbot, tmp_path: Path) -> None:
    view = _view(qtbot, tmp_path)
    view.experiment_box.setCurrentText("grid")
    _settle(qtbot, view)
    bands = view.bands
    assert len(bands.legend_labels) == 4 and bands.legend_labels[0].endswith("(2 seeds)")
    acc = bands.plots["test_acc"].getPlotItem()
    fills = [i for i in acc.items if isinstance(i, pg.FillBetweenItem)]
    assert len(fills) == 4 and len(acc.listDataItems()) == 4  # a mean line over a band each
    means = sorted(tuple(item.getData()[1]) for item in acc.listDataItems())
    assert means[0] == (87.5, 90.5)  # lr=0.001, augment 0: seeds 90 and 91, minus 3 at epoch 1
    if SHOTS:
        view.grab().save(os.path.join(SHOTS, "experiments-bands-test.png"))
    bands.bands_box.setChecked(False)
    assert len(acc.listDataItems()) == 8 and not any(
        isinstance(i, pg.FillBetweenItem) for i in acc.items)


def test_sweep_page_parallel_coordinates_and_importance(qtbot, tmp_path: Path) -> None:
    view = _view(qtbot, tmp_path)
    view.experiment_box.setCurrentText("grid")
    _settle(qtbot, view)
    insight = view.insight
    assert view.pages.isTabEnabled(2)
    assert insight.coords is not None and len(insight.coords.lines) == 8
    assert [a.name for a in insight.coords.axes] == ["augment", "lr", "val_acc"]
    assert insight.ranking is not None and next(iter(insight.ranking.scores)) == "lr"
    assert "PedAnovaImportanceEvaluator" in insight.importance_label.text()
    assert insight.bars_label.text().startswith("lr")
    view.experiment_box.setCurrentText("ab")  # named recipes only: nothing to rank
    assert not view.pages.isTabEnabled(2) and insight.coords is None


def test_export_trials_and_delete(qtbot, tmp_path: Path, monkeypatch) -> None:
    view = _view(qtbot, tmp_path)
    view.experiment_box.setCurrentText("grid")
    _settle(qtbot, view)
    target = tmp_path / "out" / "grid.csv"
    monkeypatch.setattr(experiments_view, "save_file", lambda *a, **k: target)
    view.trials_button.click()
    rows = list(csv.DictReader(target.read_text().splitlines()))
    assert len(rows) == 8 * 2 and rows[0]["experiment"] == "grid"

    asked = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: asked.append(box.text()) or
                        QMessageBox.StandardButton.Yes)
    gone = []
    view.deleted.connect(gone.append)
    view.delete_button.click()
    assert "Delete experiment grid and its 8 trial runs" in asked[0]
    assert gone == ["grid"] and view.store.names() == ["ab"]
    assert view.experiment_box.currentText() == "ab"
    assert not any(r.experiment and r.experiment.get("name") == "grid"
                   for r in view.store.runs.list())
