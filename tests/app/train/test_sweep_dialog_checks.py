"""The sweep / Run N seeds dialog checks what it would start before Start is offered (issue 26.3):
a validation split as large as the training subset, a trial setting TrainConfig refuses, a name
taken by another definition; default names never collide; failed trials' reasons are shown
wrapped under the table, not only at the end of a wide Status cell."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from PySide6.QtWidgets import QPushButton

from app.train.sweep_dialog import SweepDialog, default_val_split, fresh_name
from core.experiments.spec import ExperimentSpec
from core.experiments.storage import ExperimentStore
from core.runs.store import RunStore
from core.training.config import TrainConfig

TINY = TrainConfig(model="dl-tiny-1k", device="cpu", epochs=1, train_subset=500,
                   test_subset=200, batch_size=50, lr=0.1, compile=False)


@pytest.fixture
def experiments(tmp_path: Path) -> ExperimentStore:
    return ExperimentStore(RunStore(tmp_path / "runs"))


def _dialog(qtbot, experiments: ExperimentStore, config: TrainConfig = TINY,  # type: ignore[no-untyped-def]
            sweep: bool = True) -> SweepDialog:
    widget = SweepDialog(config, seeds=2, sweep=sweep, store=experiments)
    qtbot.addWidget(widget)
    return widget


def test_a_subset_gets_a_validation_split_it_can_hold(qtbot, experiments) -> None:
    d = _dialog(qtbot, experiments, TINY.with_overrides(train_subset=5000))
    assert d.val_box.value() == 800  # a sixth, in hundreds: was 10,000 of 5,000 images
    assert d.start_button.isEnabled(), d.count_label.text()
    assert default_val_split(TrainConfig(), sweep=True) == 10_000
    assert default_val_split(TINY.with_overrides(train_subset=50), sweep=True) == 8
    assert default_val_split(TINY, sweep=False) == 0


def test_a_split_as_large_as_the_subset_disables_start_with_the_reason(qtbot,
                                                                       experiments) -> None:
    d = _dialog(qtbot, experiments, TINY.with_overrides(train_subset=5000))
    d.val_box.setValue(10000)
    assert not d.start_button.isEnabled()
    text = d.count_label.text()
    assert text.startswith("Invalid training setting:")  # every trial: no trial named
    assert "validation split (10,000 images) must be smaller than the training images" in text
    assert "(5,000, the train subset)" in text
    d.val_box.setValue(1000)
    assert d.start_button.isEnabled() and d.count_label.text() == \
        "4 trials (2 settings × 2 seeds)"


def test_every_trial_setting_is_checked_and_the_trial_named(qtbot, experiments) -> None:
    d = _dialog(qtbot, experiments)
    d.add_sweep_row("lr", "0.05, 50")  # the largest allowed lr is far below 50
    assert not d.start_button.isEnabled()
    assert d.count_label.text().startswith("Trial ")
    assert "lr=50" in d.count_label.text() and "learning rate must be at most" in \
        d.count_label.text()


def test_a_name_taken_by_another_definition_disables_start(qtbot, experiments) -> None:
    experiments.save(ExperimentSpec(name="taken", model="dl-tiny-1k", seeds=[0]))
    d = _dialog(qtbot, experiments)
    d.name_edit.setText("taken")
    assert not d.start_button.isEnabled()
    assert "already exists with other settings: choose another name" in d.count_label.text()
    d.name_edit.setText("free")
    assert d.start_button.isEnabled()
    experiments.save(d.spec())  # the same definition: Start resumes it
    d.name_edit.setText("x")
    d.name_edit.setText("free")
    assert d.start_button.isEnabled() and "Start resumes" in d.count_label.text()


def test_default_names_do_not_collide(qtbot, experiments) -> None:
    now = datetime(2026, 12, 5, 17, 40, 12)
    first, second = fresh_name(experiments, "m", now), fresh_name(experiments, "m", now)
    assert first == "m-1205-174012" and second == "m-1205-174012-2"
    experiments.save(ExperimentSpec(name="m-1205-174013", model="dl-tiny-1k", seeds=[0]))
    assert fresh_name(experiments, "m", now.replace(second=13)) == "m-1205-174013-2"
    a, b = _dialog(qtbot, experiments), _dialog(qtbot, experiments)  # two within a second
    assert a.name_edit.text() != b.name_edit.text()


def test_failed_trials_show_their_reason_wrapped_under_the_table(qtbot, experiments) -> None:
    d = _dialog(qtbot, experiments)
    d.resize(720, 640)
    spec = d.spec()
    d._fill_trials(spec)
    reason = ("A validation split of 10000 images is impossible with 5000 training images: "
              "choose between 1 and 4999.")

    class Finished:
        status, error = "failed", reason

    key = d.trials.item(0, 0).text()
    d._partial(("finished", key, Finished()))
    assert d.trials.item(0, 3).text() == "failed"  # narrow: no sideways scrolling
    assert reason in d.trials.item(0, 3).toolTip()
    assert not d.failure_label.isHidden() and d.failure_label.wordWrap()
    assert f"{key}: {reason}" in d.failure_label.text()
    assert d.failure_label.text().startswith("1 trial failed.")


def test_the_recipe_line_says_the_time_budget_and_there_is_a_close_button(qtbot,
                                                                          experiments) -> None:
    d = _dialog(qtbot, experiments, TINY.with_overrides(time_budget=60.0), sweep=False)
    recipe = d.layout().itemAt(0).widget().text()
    assert "a 60 s time budget" in recipe and "1 epoch" not in recipe
    assert "500 training images" in recipe
    close = [b for b in d.findChildren(QPushButton) if b.text() == "Close"]
    assert close and close[0].isVisibleTo(d)
