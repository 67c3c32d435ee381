"""The Train tab's live curves before and after the first epoch."""

from __future__ import annotations

import pytest

from app.train.plots import LivePlots
from core.training.metrics import EpochMetrics


def epoch(n: int, test_acc: float) -> EpochMetrics:
    return EpochMetrics(epoch=n, train_loss=0.4, train_acc=test_acc - 3, test_loss=0.2,
                        test_acc=test_acc, val_loss=None, val_acc=None, lr=0.01, seconds=3.0,
                        samples_per_s=1000.0)


def test_an_empty_accuracy_chart_is_a_percent_axis(qtbot) -> None:
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.reset(None, 3)
    low, high = plots.acc_plot.getViewBox().viewRange()[1]
    assert (low, high) == pytest.approx((0.0, 100.0))  # not pyqtgraph's 0-1 under "accuracy (%)"


def test_one_epoch_shows_as_points(qtbot) -> None:
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.reset(None, 1)
    plots.add_epoch(epoch(1, 94.0))
    plots.repaint_curves()
    for curve in (plots.train_acc_curve, plots.test_acc_curve, plots.train_loss_curve,
                  plots.test_loss_curve):
        assert len(curve.getData()[0]) == 1 and curve.opts["symbol"] == "o"
    low, high = plots.acc_plot.getViewBox().viewRange()[1]
    assert low < 91.0 and high >= 100.0  # both points in view
