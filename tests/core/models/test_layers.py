"""core.models.layers: per-layer shapes, parameters, receptive field (RF) and jump."""

from __future__ import annotations

import json

import torch
from torch import nn

from core.models import PARAM_BUDGET, build_model, count_parameters
from core.models.layers import summarize


def rf_rows(summary, kinds=("Conv2d", "MaxPool2d", "AvgPool2d")):
    """(RF, jump) of the layers that change them, in execution order."""
    return [(r.receptive_field, max(r.jump)) for r in summary.rows if r.kind in kinds]


def test_hand_computed_stack() -> None:
    # conv3 → conv3 → maxpool2 → conv3 → conv3: RF 3, 5, 6, 10, 14; jump 1, 1, 2, 2, 2.
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1),
                          nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4),
                          nn.Conv2d(4, 4, 3, padding=1))
    s = summarize(model)
    assert rf_rows(s) == [(3, 1), (5, 1), (6, 2), (10, 2), (14, 2)]
    assert [r.receptive_field for r in s.rows if r.kind in ("ReLU", "BatchNorm2d")] == [3, 10]
    assert s.receptive_field == 14 and s.jump == 2 and not s.global_pool


def test_stride_and_dilation() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.Conv2d(2, 2, 3, dilation=2),
                          nn.Conv2d(2, 2, 5))
    # 3 (jump 2); + 2·2·2 = 11; + 4·2 = 19.
    assert rf_rows(summarize(model)) == [(3, 2), (11, 2), (19, 2)]


def test_eva5_matches_hand_computation_and_printed_summary() -> None:
    s = summarize(build_model("eva5-s4"))
    # conv1-3, pool, conv4-6, pool, conv7, conv8, AvgPool2d(3, 2): worked out in eva5.py.
    assert rf_rows(s) == [(3, 1), (5, 1), (7, 1), (8, 2), (12, 2), (16, 2), (20, 2), (22, 4),
                          (30, 4), (38, 4), (46, 8)]
    assert s.receptive_field == 46 and s.jump == 8
    assert not s.global_pool  # the 3×3 average pool is a local window, not global
    shapes = {r.name: r.output_shape for r in s.rows}
    # The seed's printed torchsummary (what ran), not its code comments.
    assert shapes["conv6"] == (1, 16, 12, 12) and shapes["pool2"] == (1, 16, 6, 6)
    assert shapes["conv7"] == (1, 20, 6, 6) and shapes["conv8"] == (1, 10, 4, 4)
    assert shapes["avgpool"] == (1, 10, 1, 1) and shapes["flatten"] == (1, 10)
    assert [r.params for r in s.rows if r.kind == "Conv2d"] == [40, 148, 296, 876, 1308, 1744,
                                                               2900, 1810]
    assert s.total_params == 9_274 and not s.under_budget


def test_session6_model1_final_rf_is_32() -> None:
    s = summarize(build_model("s6-model1"))
    assert s.receptive_field == 32 and s.jump == 4 and s.global_pool
    assert s.total_params == 9_850


def test_side_branches_do_not_grow_the_main_path() -> None:
    # Model_3 = Model_2 + SE gates: the same main path, so the same RF; SE rows are global.
    plain, se = summarize(build_model("s6-model2-dws")), summarize(build_model("s6-model3-se"))
    assert plain.receptive_field == se.receptive_field == 32
    se_rows = [r for r in se.rows if ".se." in r.name]
    assert se_rows and all(r.is_global for r in se_rows)
    after = next(r for r in se.rows if r.name == "block2.skip")
    assert not after.is_global and after.receptive_field == 14


def test_asymmetric_kernels_tracked_per_axis() -> None:
    s = summarize(build_model("review-iter4-asymmetric"))
    rows = {r.name: r for r in s.rows}
    assert rows["block1.conv2_h"].rf == (3, 5)  # a 1×3 kernel widens the width only
    assert rows["block1.conv2_v"].rf == (5, 5)
    assert rows["block2.pool2"].output_shape == (1, 48, 5, 5)


def test_global_pool_and_linear_over_a_map_are_global() -> None:
    s = summarize(build_model("review-option-a"))
    rows = {r.name: r for r in s.rows}
    assert rows["gap"].is_global and rows["fc"].is_global and rows["gap"].rf == (28, 28)
    assert s.receptive_field == 16 and s.global_pool  # the map's RF, before the GAP
    exp2 = summarize(build_model("channel-exp2"))
    rows = {r.name: r for r in exp2.rows}
    assert not rows["flatten"].is_global and rows["fc1"].is_global
    assert exp2.receptive_field == 12


def test_params_rows_and_totals_agree() -> None:
    model = build_model("channel-exp2")  # reuses one ReLU and one MaxPool module
    s = summarize(model)
    assert s.total_params == count_parameters(model) == sum(r.params for r in s.rows) == 27_738
    assert sum(r.kind == "MaxPool2d" for r in s.rows) == 2


def test_budget_verdict_text_and_dict() -> None:
    small = summarize(build_model("pg-model3"))
    assert small.under_budget and small.budget == PARAM_BUDGET == 8000
    text = small.to_text()
    assert "6,874" in text and "under the 8,000 budget" in text and "Receptive field: 18" in text
    assert text.splitlines()[0].split() == ["Layer", "Type", "Output", "Params", "RF", "Jump"]
    big = summarize(build_model("review-iter4"))
    assert not big.under_budget and "OVER the budget" in big.to_text()
    data = json.loads(json.dumps(small.to_dict()))
    assert data["total_params"] == 6_874 and data["under_budget"] is True
    assert data["receptive_field"] == 18 and len(data["rows"]) == len(small.rows)
    assert {"name", "type", "output_shape", "params", "receptive_field", "jump", "global"} <= set(
        data["rows"][0])


def test_model_state_is_restored() -> None:
    model = build_model("s6-model3-se")
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    summarize(model)
    assert all(m.training for m in model.modules())
    assert not any(m._forward_hooks for m in model.modules())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN stats untouched
