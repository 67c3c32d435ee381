"""Compare tab, issue 25.1: runs of one recipe over seeds as a mean ± std band; trials of one
experiment banded by default, other runs on request, and back to single runs with the box."""

from __future__ import annotations

import os

import pyqtgraph as pg
import pytest

from app.compare.tab import CompareTab
from core.runs.store import RunStore

pytest_plugins = ["tests.support.compare_helpers"]  # the `store` and `tab` fixtures
SHOTS = os.environ.get("DIGITLAB_SHOTS", "")


def _run(store: RunStore, point: int, seed: int, accs: list[float], experiment: str = "e",
         lr: float = 0.1) -> str:
    tag = {"name": experiment, "trial": f"p{point:03d}-s{seed}", "point": point,
           "label": f"lr={lr}", "seed": seed} if experiment else None
    run = store.create({"model": "dl-tiny-1k", "epochs": len(accs), "lr": lr, "seed": seed},
                       params=996, experiment=tag, name=f"run p{point} s{seed}")
    for epoch, acc in enumerate(accs, 1):
        run.record.history.append({
            "epoch": epoch, "train_loss": (0.5 + seed) / epoch, "train_acc": acc,
            "test_loss": (0.3 + seed) / epoch, "test_acc": acc, "val_loss": None,
            "val_acc": None, "lr": lr, "seconds": 1.0, "samples_per_s": 900.0})
    run.record.epochs_done = len(accs)
    run.mark("completed")
    return run.id


def _fills(plot: pg.PlotWidget) -> list[pg.FillBetweenItem]:
    return [i for i in plot.getPlotItem().items if isinstance(i, pg.FillBetweenItem)]


def test_trials_of_one_experiment_are_banded_by_recipe(qtbot, tab: CompareTab,
                                                       store: RunStore) -> None:
    a = [_run(store, 0, s, [90.0 + s, 95.0 + s]) for s in (0, 1)]
    b = [_run(store, 1, s, [80.0 + 2 * s, 85.0 + 2 * s], lr=0.2) for s in (0, 1)]
    tab.refresh()
    tab.select_runs(a + b)
    plots = tab.plots
    assert plots.banding and (not plots.bands_box.isHidden())
    means = {c.name(): list(c.getData()[1]) for c in plots.accuracy_curves()}
    assert means == {"lr=0.1 (n=2)": [90.5, 95.5], "lr=0.2 (n=2)": [81.0, 86.0]}
    assert len(_fills(plots.acc_plot)) == 2 and len(_fills(plots.loss_plot)) == 4
    assert len(plots.loss_curves()) == 4  # train and test loss per recipe
    colors = tab.model._colors
    assert colors[a[0]] == colors[a[1]] != colors[b[0]] == colors[b[1]]  # rows: recipe colour
    if SHOTS:
        tab.grab().save(os.path.join(SHOTS, "compare-bands-test.png"))

    plots.bands_box.setChecked(False)  # back to each run
    assert not plots.banding and len(plots.accuracy_curves()) == 4
    assert not _fills(plots.acc_plot) and not _fills(plots.loss_plot)
    assert len(set(tab.model._colors.values())) == 4


def test_other_runs_band_on_request_and_lone_runs_show_no_box(qtbot, tab: CompareTab,
                                                              store: RunStore) -> None:
    same = [_run(store, 0, s, [97.0 + s], experiment="") for s in (0, 1, 2)]
    other = _run(store, 0, 0, [50.0], experiment="", lr=0.3)
    tab.refresh()
    tab.select_runs([*same, other])
    plots = tab.plots
    assert (not plots.bands_box.isHidden()) and not plots.banding  # not one experiment: off
    assert len(plots.accuracy_curves()) == 4
    plots.bands_box.setChecked(True)
    names = sorted(c.name() for c in plots.accuracy_curves())
    assert names == ["dl-tiny-1k (lr=0.1) (n=3)", "dl-tiny-1k (lr=0.3) (n=1)"]
    band = next(c for c in plots.accuracy_curves() if "n=3" in c.name())
    assert list(band.getData()[1]) == [pytest.approx(98.0)]
    tab.select_runs([other])
    assert plots.bands_box.isHidden() and not plots.banding
