"""Never choosing by the test set: "best" is picked on validation when there is one, "last" is the
default otherwise, and a "best" picked on test says so wherever it is offered."""

from __future__ import annotations

import json

import pytest
import torch

from core.runs.best import (
    best_after,
    checkpoint_label,
    picked_on,
    resolve_checkpoint,
)
from core.runs.evaluation import evaluate_run
from core.runs.record import DamagedRun
from core.runs.store import RunStore
from core.training.config import TrainConfig
from core.training.loop import train
from core.training.metrics import EpochMetrics


def _epoch(n: int, test: float, val: float | None) -> EpochMetrics:
    return EpochMetrics(epoch=n, train_loss=1.0, train_acc=50.0, test_loss=1.0, test_acc=test,
                        val_loss=None if val is None else 1.0, val_acc=val, lr=0.1,
                        seconds=1.0, samples_per_s=1.0)


def _save(run, metrics: EpochMetrics) -> None:
    run.save_epoch(metrics, {"epoch_marker": torch.tensor(metrics.epoch), "model": {},
                             "config": {}})


# Test accuracy peaks at epoch 2, validation accuracy at epoch 3.
TEST_PEAK_2 = [(1, 97.0), (2, 99.0), (3, 98.0), (4, 97.5)]
VAL_PEAK_3 = [97.1, 97.2, 98.9, 97.3]


def test_with_validation_best_is_the_validation_peak_and_the_default(tmp_path) -> None:
    run = RunStore(tmp_path).create(TrainConfig(val_split=100).to_dict())
    for (n, test), val in zip(TEST_PEAK_2, VAL_PEAK_3, strict=True):
        _save(run, _epoch(n, test, val))
    record = RunStore(tmp_path).get(run.id).record  # as saved in run.json
    assert record.best == {"epoch": 3, "picked_on": "validation", "accuracy": 98.9}
    saved = torch.load(run.checkpoint_path("best"), weights_only=True)
    assert int(saved["epoch_marker"]) == 3  # not epoch 2, where test accuracy peaked
    assert picked_on(record) == "validation" and resolve_checkpoint(record, None) == "best"
    assert checkpoint_label(record, "best") == "best checkpoint (epoch 3, picked on validation)"


def test_without_validation_last_is_the_default_and_best_says_test(tmp_path) -> None:
    run = RunStore(tmp_path).create(TrainConfig().to_dict())
    for n, test in TEST_PEAK_2:
        _save(run, _epoch(n, test, None))
    record = RunStore(tmp_path).get(run.id).record
    assert record.best == {"epoch": 2, "picked_on": "test", "accuracy": 99.0}
    assert resolve_checkpoint(record, None) == "last"
    assert resolve_checkpoint(record, "best") == "best"  # still there when asked for by name
    # The run itself has no default: which checkpoint is always said (or resolved above).
    with pytest.raises(TypeError):
        RunStore(tmp_path).get(run.id).load_checkpoint()  # type: ignore[call-arg]
    assert checkpoint_label(record, "last") == "last checkpoint (epoch 4)"
    assert "picked on test" in checkpoint_label(record, "best")


def test_runs_saved_before_the_record_field_are_read_from_their_history(tmp_path) -> None:
    run = RunStore(tmp_path).create(TrainConfig().to_dict())
    _save(run, _epoch(1, 97.0, None))
    data = json.loads((run.dir / "run.json").read_text())
    del data["best"]
    (run.dir / "run.json").write_text(json.dumps(data))
    record = RunStore(tmp_path).get(run.id).record
    assert record.best == {} and picked_on(record) == "test"
    assert resolve_checkpoint(record, None) == "last"


def test_ties_go_to_the_later_epoch() -> None:
    history = [_epoch(1, 98.0, 99.0).to_dict()]
    assert best_after(history, _epoch(2, 97.0, 99.0).to_dict())["epoch"] == 2
    assert best_after(history, _epoch(2, 99.5, 98.9).to_dict()) is None  # test does not count


def test_a_damaged_best_field_marks_the_record_damaged(tmp_path) -> None:
    store = RunStore(tmp_path)
    run = store.create(TrainConfig().to_dict())
    data = json.loads((run.dir / "run.json").read_text())
    data["best"] = {"epoch": 2, "picked_on": "the moon", "accuracy": 99.0}
    (run.dir / "run.json").write_text(json.dumps(data))
    (listed,) = store.damaged()
    assert isinstance(listed, DamagedRun) and "picked_on" in listed.reason
    assert store.list() == []


@pytest.mark.parametrize("val_split", [0, 200])
def test_evaluate_run_defaults_never_to_a_test_picked_checkpoint(mnist, val_split) -> None:
    store = RunStore()
    config = TrainConfig(model="dl-tiny-1k", device="cpu", epochs=2, batch_size=50,
                         train_subset=1000, test_subset=200, val_split=val_split, seed=1)
    run = store.create(config.to_dict())
    train(config, data=mnist, run=run)
    run = store.get(run.id)
    report = evaluate_run(run, data_dir=mnist.source, test_subset=200)
    if val_split:
        assert run.record.best["picked_on"] == "validation"
        assert report.checkpoint == "best" and "picked on validation" in report.to_text()
    else:
        assert run.record.best["picked_on"] == "test"
        assert report.checkpoint == "last" and "last checkpoint (epoch 2)" in report.to_text()
        asked = evaluate_run(run, "best", data_dir=mnist.source, test_subset=200)
        assert "picked on test" in asked.to_text().splitlines()[0]
