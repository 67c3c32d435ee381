"""core.runs.results: a real run's results agree with its test set, and the gallery is capped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import core.runs.results as results_module
from core.runs.results import run_results
from core.runs.store import RunStore


@pytest.fixture(scope="module")
def trained(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A real one-epoch run of the smallest zoo model, stored once for the module's tests."""
    from core.models import build_model
    from core.models.layers import summarize
    from core.training.config import TrainConfig
    from core.training.loop import train

    store = RunStore(tmp_path_factory.mktemp("runs"))
    config = TrainConfig(model="dl-tiny-1k", device="cpu", epochs=1, train_subset=300,
                         test_subset=400, batch_size=50, data_dir=str(mnist_dir))
    summary = summarize(build_model(config.model))
    run = store.create(config.to_dict(), params=summary.total_params,
                       receptive_field=summary.receptive_field, name="results test")
    train(config, run=run)
    return store, run


def test_results_match_the_test_images_they_name(trained, mnist) -> None:
    store, run = trained
    results = run_results(run.id, "best", store=store)
    assert results.run_id == run.id and results.checkpoint == "best"
    assert results.n_test == 400 and results.confusion.sum() == 400  # the run's test subset
    assert results.n_wrong == 400 - int(np.trace(results.confusion))
    assert results.accuracy == pytest.approx(100 * np.trace(results.confusion) / 400)
    rows = results.confusion.sum(axis=1)
    assert results.per_class == pytest.approx(100 * np.diag(results.confusion) / rows)
    # Each gallery tile is the test image it names, with its true label and a wrong prediction.
    assert len(results.wrong_index) == min(results.n_wrong, results_module.GALLERY_LIMIT) > 0
    assert (results.wrong_images == mnist.test_images[results.wrong_index]).all()
    assert (results.wrong_true == mnist.test_labels[results.wrong_index]).all()
    assert (results.wrong_true != results.wrong_pred).all()
    pairs = np.zeros((10, 10), int)
    np.add.at(pairs, (results.wrong_true, results.wrong_pred), 1)
    assert (pairs <= results.confusion).all()


def test_the_gallery_keeps_at_most_the_limit(trained, monkeypatch) -> None:
    store, run = trained
    monkeypatch.setattr(results_module, "GALLERY_LIMIT", 3)
    results = run_results(run.id, store=store)
    assert len(results.wrong_images) == 3 and results.n_wrong > 3
