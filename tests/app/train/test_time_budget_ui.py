"""The Train tab's time budget: the form field, a real budgeted run, its progress in seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt

from app.train.progress import TrainProgress
from app.train.tab import TrainTab
from core.runs.store import RunStore
from core.training.metrics import StartInfo
from tests.app.train.test_tab import configure, wait_idle


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread (see tests/core/training/test_time_budget.py: a shared machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tab(qtbot, mnist_dir: Path):
    widget = TrainTab()
    qtbot.addWidget(widget)
    yield widget
    widget.shutdown()


def test_the_budget_field_sets_the_config_and_greys_out_epochs(qtbot, tab: TrainTab) -> None:
    epochs = tab.form._fields["epochs"][0]
    assert tab.form.config().time_budget == 0 and epochs.isEnabled()
    tab.form.set_values({"time_budget": 45})
    assert tab.form.config().time_budget == 45.0 and not epochs.isEnabled()
    tab.form.set_values({"time_budget": 0})
    assert epochs.isEnabled()


def test_a_budgeted_run_ends_on_time_and_records_its_choice(qtbot, tab: TrainTab) -> None:
    configure(tab, time_budget=8, train_subset=2048, compile=False)
    with qtbot.waitSignal(tab.run_finished, timeout=90_000) as finished:
        qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, tab)
    record = RunStore().get(finished.args[0]).record
    assert record.status == "completed"
    chosen = record.env["time_budget"]
    assert chosen["budget_s"] == 8.0 and chosen["counted_from"] == "training start"
    # On time: by the budget, or right after start-up (MNIST, model, imports) if a loaded
    # machine made start-up itself outlast the budget.
    assert chosen["steps"] > 0
    assert chosen["ended_at_s"] <= max(8.0, chosen["startup_s"]) + 3.0, chosen
    assert len(record.history) == 1  # evaluated once, at the end


def test_progress_shows_the_budget_in_seconds(qtbot) -> None:
    progress = TrainProgress()
    qtbot.addWidget(progress)
    info = StartInfo(model="dl-dilated-1k", params=990, device="CPU", epochs=15,
                     steps_per_epoch=100, n_train=6400, n_test=500, start_epoch=0, run_id="r",
                     time_budget=30.0)
    progress.started(info, batch_size=64)
    assert "time budget of 30 s" in progress.headline.text()
    assert progress.bar.maximum() == 300  # tenths of a second
    progress._budget_started -= 12.0  # 12 s into the run
    progress.advance(250)
    assert progress.bar.value() == pytest.approx(120, abs=2)
    assert "2.50 epochs" in progress.headline.text() and "0:30" in progress.headline.text()
