"""The reproduction experiment (every write-up model, its own recipe) and its document."""

from __future__ import annotations

from core.experiments.claims import CLAIMS, claim_for
from core.experiments.reproduction import (
    reproduction_markdown,
    reproduction_spec,
    writeup_models,
)
from core.experiments.storage import ExperimentStore
from core.models import list_models
from core.runs.store import RunStore
from tests.core.experiments.helpers import recorded_trial


def test_every_writeup_model_has_a_claims_entry_agreeing_with_the_zoo() -> None:
    models = writeup_models()
    assert len(models) == 19
    assert [c.model for c in CLAIMS] == models
    for spec in list_models():
        if spec.is_ours:
            continue
        claim = claim_for(spec.name)
        assert (claim.params, claim.accuracy) == (spec.claimed_params, spec.claimed_accuracy)
        assert not claim.accuracy or claim.accuracy_cite.startswith("line")


def test_the_spec_gives_each_model_its_recipe_on_the_stated_budget() -> None:
    spec = reproduction_spec(base={"train_subset": 10000, "device": "cpu"})
    assert sorted(spec.variants) == sorted(writeup_models()) and spec.writeup_recipe
    order = list(spec.variants)  # cheapest first: the 480k-parameter channel study nets last
    assert order.index("pg-model3a-dws") == 0 and order[-4:] == [
        "channel-exp5", "channel-exp6", "channel-exp1", "channel-exp2"]
    points = {p.variant: p for p in spec.grid_points()}
    eva = spec.trial_config(points["eva5-s4"], 0)
    assert (eva.epochs, eva.schedule, eva.train_subset) == (19, "step", 10000)
    s6 = spec.trial_config(points["s6-model1"], 0)
    assert (s6.optimizer, s6.epochs, s6.val_split) == ("adam", 15, 1000)  # 10% of 10,000
    assert spec.trial_config(points["s6-model1"], 0).val_split == 1000
    full = reproduction_spec()
    assert full.trial_config({p.variant: p for p in full.grid_points()}["s6-model1"],
                             0).val_split == 6000


def test_the_document_sets_measurements_beside_claims(tmp_path) -> None:
    store = ExperimentStore(RunStore(tmp_path / "runs"))
    spec = reproduction_spec(base={"train_subset": 10000})
    store.save(spec)
    points = spec.grid_points()
    store.save_points(spec.name, points)
    by_model = {p.variant: p for p in points}
    recorded_trial(store.runs, spec.name, f"p{by_model['eva5-s4'].index:03d}-s0",
                   [99.30, 99.41, 99.45, 99.47], params=9274)
    recorded_trial(store.runs, spec.name, f"p{by_model['pg-model3'].index:03d}-s0",
                   [98.0, 98.9, 99.0], params=6874)
    recorded_trial(store.runs, spec.name, f"p{by_model['s6-model1'].index:03d}-s0",
                   [50.0], status="failed", error="diverged at epoch 1")
    text = reproduction_markdown(store)
    assert "10,000 training images (of 60,000), 10,000 test images (the full test set)" in text
    eva = next(line for line in text.splitlines() if line.startswith("| eva5-s4 |"))
    assert "| 9,274 — line 94 (model summary: Total params 9,274) | 9,274 |" in eva
    assert "99.52% (last logged) — line 125" in eva
    assert "| 99.47% | 99.47% | 99.41, 99.45, 99.47 |" in eva
    assert "claim reproduced (last logged -0.05 points)" in eva
    pg = next(line for line in text.splitlines() if line.startswith("| pg-model3 |"))
    assert "not reproduced: -0.19 points" in pg and "trained on 10,000 of 60,000" in pg
    assert "parameters differ from the claim by -728" in pg
    s6 = next(line for line in text.splitlines() if line.startswith("| s6-model1 |"))
    assert "failed after 1 of 1 epochs (test 50.00% so far): diverged at epoch 1" in s6
    assert "| 9,850 |" in s6 and "| – | – | – | – | – |" in s6  # computed params, no figures
    assert "**Not finished** (17 of 19)" in text


def test_a_recipe_changed_since_the_run_is_flagged(tmp_path, monkeypatch) -> None:
    from core.experiments import reproduction
    from core.experiments.spec import Trial
    from core.experiments.storage import TrialState

    store = RunStore(tmp_path / "runs")
    run_id = recorded_trial(store, "reproduction", "p000-s0", [99.0, 99.1, 99.2])
    record = store.get(run_id).record
    record.config.update({"lr": 0.028, "epochs": 3})
    spec = reproduction_spec(models=["pg-model3"])
    state = TrialState(Trial(spec.grid_points()[0], 0), record)
    monkeypatch.setattr(record, "model", "pg-model3")
    changed = reproduction.recipe_changes(state)
    assert "lr" not in changed and "optimizer" in changed and "epochs" in changed
    assert "its write-up recipe has changed since this run" in reproduction.verdict(
        claim_for("pg-model3"), state, 60_000, 10_000)


def test_a_net_that_did_not_learn_and_a_missing_recipe_are_said_plainly(tmp_path) -> None:
    store = ExperimentStore(RunStore(tmp_path / "runs"))
    spec = reproduction_spec(base={"train_subset": 10000})
    store.save(spec)
    points = spec.grid_points()
    store.save_points(spec.name, points)
    index = {p.variant: p.index for p in points}["pg-model1"]
    run_id = recorded_trial(store.runs, spec.name, f"p{index:03d}-s0", [10.3, 11.35, 11.35])
    run = store.runs.get(run_id)
    run.record.model = "pg-model1"
    run.save_record()
    row = next(line for line in reproduction_markdown(store).splitlines()
               if line.startswith("| pg-model1 |"))
    assert "did not learn: 11.35% is what always answering one digit scores" in row
    assert "the write-up states no training recipe for it: DigitLab's defaults apply (sgd" in row
    assert "not reproduced: -87.23 points against the claim;" in row  # no subset excuse
