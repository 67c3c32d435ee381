"""Rules with one owner: the budget, the normalisation and how a percentage is written. Each is
checked at its edge, through every place that shows it, so a second copy that drifts fails."""

from __future__ import annotations

import numpy as np
import pytest

from core.data.mnist import MNIST_MEAN, MNIST_STD, normalize
from core.models.spec import PARAM_BUDGET, under_budget
from core.text import percent


def test_under_budget_means_strictly_fewer_parameters() -> None:
    assert under_budget(PARAM_BUDGET - 1) and not under_budget(PARAM_BUDGET)
    assert under_budget(19_999, budget=20_000) and not under_budget(20_000, budget=20_000)


def test_every_place_that_judges_the_budget_agrees_at_its_edge() -> None:
    from dataclasses import replace

    from core.models.zoo_info import ZooInfo
    from core.runs.report import RunSummary

    summary = RunSummary(id="r", name="r", model="m", status="completed", params=0,
                         receptive_field=0, epochs_done=1, epochs_planned=1, best_acc=None,
                         final_acc=None, last3=(), seconds=0.0, device="", my_digits_acc=None)
    for params in (PARAM_BUDGET - 1, PARAM_BUDGET):
        assert replace(summary, params=params).meets_params == under_budget(params)
    assert not summary.meets_params  # 0: never counted, not "under budget"
    for params in (PARAM_BUDGET - 1, PARAM_BUDGET):
        info = ZooInfo("m", "f", "s", "d", params=params, receptive_field=0)
        assert info.under_budget == under_budget(params)


def test_normalize_is_mnist_s_and_keeps_the_type() -> None:
    torch = pytest.importorskip("torch")
    assert normalize(0.0) == pytest.approx(-MNIST_MEAN / MNIST_STD)
    pixels = np.array([0.0, MNIST_MEAN, 1.0], np.float32)
    out = normalize(pixels)
    assert out.dtype == np.float32 and out[1] == 0.0
    assert torch.equal(normalize(torch.from_numpy(pixels)), torch.from_numpy(out))


def test_percent_is_written_one_way() -> None:
    assert percent(99.4261) == "99.43%" and percent(99.4261, 1) == "99.4%"
    assert percent(None) == "–"
