"""The Train tab's "Run N seeds…" / "Sweep…" dialog: the form's recipe × a grid × seeds, run as
an experiment through the job helper, with progress, stop and resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.train.sweep_dialog import SweepDialog
from core.experiments.storage import ExperimentStore
from core.runs.store import RunStore
from core.workflows.launch import new_run_config

TINY = {"model": "dl-tiny-1k", "device": "cpu", "epochs": 1, "train_subset": 500,
        "test_subset": 200, "batch_size": 50, "lr": 0.1, "compile": False}


@pytest.fixture
def experiments(tmp_path: Path) -> ExperimentStore:
    return ExperimentStore(RunStore(tmp_path / "runs"))


def dialog(qtbot, experiments: ExperimentStore, sweep: bool, seeds: int = 1,  # type: ignore[no-untyped-def]
           **changes: object) -> SweepDialog:
    widget = SweepDialog(new_run_config({**TINY, **changes}), seeds=seeds, sweep=sweep,
                         store=experiments)
    qtbot.addWidget(widget)
    widget.name_edit.setText("gui")
    return widget


def test_the_form_recipe_becomes_the_base_of_every_trial(qtbot, experiments) -> None:
    d = dialog(qtbot, experiments, sweep=True, seeds=3)
    d.add_sweep_row("lr", "0.01, 0.02")
    spec = d.spec()
    assert spec.model == "dl-tiny-1k" and spec.seeds == [0, 1, 2]
    assert spec.base["batch_size"] == 50 and spec.base["val_split"] == 83  # 500 // 6
    assert "seed" not in spec.base and "data_dir" not in spec.base
    assert spec.search.space == {"augment": [0.3, 1.0], "lr": [0.01, 0.02]}
    assert d.count_label.text() == "12 trials (4 settings × 3 seeds)"
    assert d.start_button.isEnabled()
    d.sweep_table.cellWidget(1, 1).setText("0.01, fast")
    assert "lr = 'fast' is not a float" in d.count_label.text()
    assert not d.start_button.isEnabled()


@pytest.mark.slow
def test_run_n_seeds_trains_each_seed_and_reports(qtbot, experiments, mnist_dir) -> None:
    d = dialog(qtbot, experiments, sweep=False, seeds=2)
    assert d.sweep_table.rowCount() == 0 and d.val_box.value() == 0
    d.start_button.click()
    assert d.stop_button.isEnabled() and not d.start_button.isEnabled()
    assert not d.add_button.isEnabled() and not d.seeds_box.isEnabled()
    qtbot.waitUntil(lambda: not d.jobs.busy, timeout=180_000)
    assert [d.trials.item(r, 3).text() for r in range(2)] == ["completed", "completed"]
    assert d.progress.value() == 2 and d.progress.maximum() == 2
    assert d.result_label.text().startswith("base: test ")
    assert "consistent ≥99.4%: 0/2" in d.result_label.text()
    runs = experiments.runs.list()
    assert sorted(r.experiment["trial"] for r in runs) == ["p000-s0", "p000-s1"]


@pytest.mark.slow
def test_stop_then_start_resumes_the_same_run(qtbot, experiments, mnist_dir) -> None:
    d = dialog(qtbot, experiments, sweep=False, seeds=1, epochs=3)
    d.start_button.click()
    qtbot.waitUntil(lambda: d.trials.item(0, 4) is not None
                    and d.trials.item(0, 4).text() == "1", timeout=180_000)
    d.stop_button.click()
    qtbot.waitUntil(lambda: not d.jobs.busy, timeout=60_000)
    assert "Stopped" in d.status_label.text()
    (run,) = experiments.runs.list()
    assert run.status == "stopped" and 1 <= run.epochs_done < 3
    d.start_button.click()
    qtbot.waitUntil(lambda: not d.jobs.busy, timeout=180_000)
    (again,) = experiments.runs.list()
    assert again.id == run.id and again.status == "completed" and again.epochs_done == 3
    assert d.trials.item(0, 3).text() == "completed"
