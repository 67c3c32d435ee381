"""Time-budget runs read true in the Train tab (issue 26.5): fractional epochs and the budget in
the outcome, the curves' axes and schedule stretched over the budget's plan as measured, one
progress headline that does not mix the epoch's and the run's percent, and a busy bar with the
status text before the first step (compiling)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from app.train import progress as progress_module
from app.train.plots import LivePlots
from app.train.progress import TrainProgress
from app.train.tab import TrainTab
from app.train.training_job import JobReporter, TrainOutcome
from core.training.config import TrainConfig
from core.training.metrics import StartInfo, StepMetrics


def _info(time_budget: float = 0.0, epochs: int = 3) -> StartInfo:
    return StartInfo(model="dl-dilated-1k", params=990, device="CPU", epochs=epochs,
                     steps_per_epoch=100, n_train=6400, n_test=500, start_epoch=0, run_id="r",
                     time_budget=time_budget)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(progress_module.time, "monotonic", fake)
    return fake


def test_the_outcome_of_a_budget_run_says_fractional_epochs_and_the_budget() -> None:
    budget = TrainOutcome("r", "completed", 2, (), epochs_trained=1.26, time_budget=60.0)
    assert budget.length == "1.26 epochs in a 60 s time budget"
    assert TrainOutcome("r", "completed", 1, ()).length == "1 epoch"
    assert TrainOutcome("r", "stopped", 3, ()).length == "3 epochs"

    class Job:
        def set_partial_result(self, _: object) -> None: ...

    reporter = JobReporter(Job())  # type: ignore[arg-type]
    reporter.step(StepMetrics(step=226, epoch=1.26, loss=0.3, lr=0.01))
    assert reporter.last_epoch == 1.26


def test_the_headline_keeps_epoch_and_run_progress_apart(qtbot, clock: Clock) -> None:
    progress = TrainProgress()
    qtbot.addWidget(progress)
    progress.begin("Starting…")
    progress.started(_info(), batch_size=64)
    progress.advance(130)  # 30 of epoch 2's 100 steps; 130 of the run's 300
    assert progress.headline.text() == "Epoch 2 of 3 (30%) · run 43% done"


def test_compiling_shows_a_busy_bar_with_its_text_until_the_first_step(qtbot, clock) -> None:
    progress = TrainProgress()
    qtbot.addWidget(progress)
    progress.begin("Starting…")
    progress.started(_info(), batch_size=64)
    assert progress.before_first_step
    progress.busy("Compiling the model (once per run; cached for the next)…")
    assert progress.bar.maximum() == 0  # indeterminate: Qt animates it
    assert progress.headline.text().startswith("Compiling")
    progress.advance(1)
    assert not progress.before_first_step and progress.bar.maximum() == 300


def test_a_budget_plan_is_measured_from_the_step_rate(qtbot, clock: Clock) -> None:
    progress = TrainProgress()
    qtbot.addWidget(progress)
    progress.begin("Starting…")
    clock.now += 10.0  # start-up and compiling: counted in the budget
    progress.started(_info(time_budget=60.0, epochs=15), batch_size=64)
    progress.advance(10)
    assert progress.planned_epochs == 0.0  # nothing measured yet
    clock.now += 5.0
    progress.advance(110)  # 100 steps in 5 s: 20 steps/s; 45 s of the budget left, less
    reserve = 500 / (20 * 64 * 2.5) + 1.0  # the trainer's for evaluating 500 test digits, exit
    assert progress.planned_epochs == pytest.approx((110 + 20 * (45 - reserve)) / 100)
    assert progress.headline.text() == ("1.10 epochs of ~9.87 planned · 0:15 of the 1:00 "
                                        "time budget")


def test_the_curves_follow_the_plan_not_config_epochs(qtbot) -> None:
    tab = TrainTab()
    qtbot.addWidget(tab)
    try:
        tab._config = TrainConfig(model="dl-dilated-1k", epochs=15, time_budget=60.0)
        tab.plots.reset(None, 0.0)
        tab.progress.planned_epochs = 2.1
        tab._follow_budget_plan()
        x, _ = tab.plots.planned_lr_curve.getData()
        assert x.max() == pytest.approx(2.1, rel=1e-6)  # the schedule over the plan
        low, high = tab.plots.loss_plot.viewRange()[0]
        assert 2.0 < high < 2.3 and low < 0.1  # was 0..15
        tab.progress.planned_epochs = 2.15  # within 5%: left as it is
        tab._follow_budget_plan()
        assert tab.plots.planned_epochs == 2.1
        tab.progress.planned_epochs = 1.5
        tab._follow_budget_plan()
        assert np.asarray(tab.plots.planned_lr_curve.getData()[0]).max() == pytest.approx(1.5)
        tab.plots.add_steps([StepMetrics(step=180, epoch=1.8, loss=0.5, lr=0.01)])
        tab._follow_budget_plan()  # the run went past the plan: the axis is never short of it
        assert tab.plots.planned_epochs == pytest.approx(1.8)
        tab._follow_budget_plan(final=1.83)  # the run's end: what the plan became
        assert tab.plots.loss_plot.viewRange()[0][1] == pytest.approx(1.83, abs=0.06)
    finally:
        tab.shutdown()


def test_plots_reset_for_epochs_still_spans_them(qtbot) -> None:
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.reset(None, 15)
    assert plots.loss_plot.viewRange()[0][1] == pytest.approx(15, abs=0.5)


def test_the_compare_table_shows_a_budget_runs_fractional_epochs(tmp_path) -> None:
    from app.compare.run_cells import Col, cell_text, row_of, sort_key
    from core.runs.store import RunStore

    store = RunStore(tmp_path / "runs")
    budget = store.create({"model": "dl-dilated-1k", "epochs": 15, "time_budget": 60.0},
                          env={"time_budget": {"epochs": 1.26, "steps": 590}})
    epochs = store.create({"model": "dl-dilated-1k", "epochs": 15})
    for run in (budget, epochs):
        for epoch in (1, 2):
            run.record.history.append({
                "epoch": epoch, "train_loss": 0.1, "train_acc": 99.0, "test_loss": 0.05,
                "test_acc": 98.0, "val_loss": None, "val_acc": None, "lr": 0.01,
                "seconds": 1.0, "samples_per_s": 100.0})
    rows = {r.id: row_of(r) for r in (budget.record, epochs.record)}
    assert cell_text(rows[budget.record.id], Col.EPOCHS) == "1.26"  # was "2/15"
    assert sort_key(rows[budget.record.id], Col.EPOCHS) == 1.26  # sorts as it reads
    done = epochs.record.epochs_done
    assert cell_text(rows[epochs.record.id], Col.EPOCHS) == f"{done}/15"  # epochs: as before
