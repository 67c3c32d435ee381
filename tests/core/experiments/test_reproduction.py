"""The reproduction experiment: its trials (every write-up model, its own recipe), the seed rule
and what a later checkout still has to run. `write_trial_record` is the other reproduction
tests' synthetic record, written the way the runner writes one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.experiments.claims import CLAIMS, WRITEUP_TITLES, claim_for
from core.experiments.reproduction import (
    missing_trials,
    reproduction_spec,
    trial_config,
    trial_seeds,
    writeup_models,
)
from core.experiments.reproduction_records import (
    DEFAULT_BASE,
    budget_tag,
    read_records,
    record_from_run,
    write_record,
)
from core.models import list_models
from core.runs.store import RunStore


def write_trial_record(folder: Path, runs: RunStore, model: str, seed: int,
                       test_accs: list[float], *, status: str = "completed", error: str = "",
                       base: dict[str, Any] | None = None, params: int = 7000,
                       config_changes: dict[str, Any] | None = None) -> Path:
    """A run in `runs` with the trial's real config and these accuracies, then its record."""
    base = dict(base or DEFAULT_BASE)
    config = {**trial_config(model, seed, base).to_dict(), **(config_changes or {})}
    run = runs.create(config, params=params, env={"device": "CPU: test", "threads": 1},
                      experiment={"name": "reproduction", "trial": f"{model}-s{seed}"})
    for epoch, acc in enumerate(test_accs, start=1):
        run.record.history.append({
            "epoch": epoch, "train_loss": 0.1, "train_acc": 99.0, "test_loss": 0.05,
            "test_acc": acc, "val_loss": None, "val_acc": None, "lr": 0.01, "seconds": 60.0,
            "samples_per_s": 1000.0})
    run.record.epochs_done = len(test_accs)
    run.mark(status, error)
    return write_record(folder, record_from_run(run.record, model, seed, base,
                                                budget_tag(base)))


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
        assert claim.writeup in WRITEUP_TITLES  # cited by title, never by a path


def test_the_writeup_titles_are_the_writeups_own_headings() -> None:
    seeds = Path(__file__).resolve().parents[3].parent / "shared" / "seeds"
    if not seeds.is_dir():  # the write-ups live beside the checkout, not in it
        pytest.skip("no shared/seeds/ beside this checkout")
    headings = {f.read_text(errors="replace").splitlines()[0].lstrip("# ").strip()
                for f in seeds.iterdir() if f.is_file()}
    assert set(WRITEUP_TITLES.values()) <= headings


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
    full = trial_config("s6-model1", 0, DEFAULT_BASE)  # the default: all 60,000, on the CPU
    assert (full.val_split, full.train_subset, full.test_subset, full.device) == \
        (6000, 0, 0, "cpu")


def test_seeds_one_and_two_join_when_seed_zero_lands_near_the_claim(tmp_path) -> None:
    folder, runs = tmp_path / "records", RunStore(tmp_path / "runs")
    write_trial_record(folder, runs, "eva5-s4", 0, [99.0] * 18 + [99.30])  # claim 99.52: -0.22
    write_trial_record(folder, runs, "s6-model1", 0, [98.5] * 15)  # claim 99.39: -0.89
    write_trial_record(folder, runs, "pg-model2", 0, [99.46, 99.0])  # best-kind claim 99.17
    write_trial_record(folder, runs, "review-option-a", 0, [99.3])  # no accuracy claimed
    write_trial_record(folder, runs, "channel-exp3", 0, [88.9], status="failed", error="x")
    records = read_records(folder, writeup_models())
    assert trial_seeds("eva5-s4", records) == [0, 1, 2]
    assert trial_seeds("pg-model2", records) == [0, 1, 2]  # +0.29, judged on the best epoch
    assert trial_seeds("s6-model1", records) == [0]
    assert trial_seeds("review-option-a", records) == [0]
    assert trial_seeds("channel-exp3", records) == [0]
    assert trial_seeds("pg-model1", records) == [0]  # not trained yet
    assert trial_seeds("s6-model1", records, seeds=[3, 4]) == [3, 4]


def test_a_later_checkout_runs_only_what_has_no_usable_record(tmp_path) -> None:
    folder, runs = tmp_path / "records", RunStore(tmp_path / "runs")
    models = ["pg-model3a-dws", "eva5-s4", "s6-model1", "channel-exp3", "pg-model1"]
    write_trial_record(folder, runs, "pg-model3a-dws", 0, [98.0])
    write_trial_record(folder, runs, "eva5-s4", 0, [99.5])  # near its claim: seeds 1, 2 due
    write_trial_record(folder, runs, "channel-exp3", 0, [90.0], status="failed", error="nan")
    write_trial_record(folder, runs, "pg-model1", 0, [98.0], config_changes={"lr": 0.5})
    write_trial_record(folder, runs, "s6-model1", 0, [99.0], base={"train_subset": 10000,
                                                                    "device": "cpu"})
    records = read_records(folder, writeup_models())
    todo = [(t.model, t.seed) for t in missing_trials(records, DEFAULT_BASE, models)]
    # s6-model1 has only a 10k record; pg-model1's was trained with another lr than its recipe
    assert todo == [("s6-model1", 0), ("pg-model1", 0), ("eva5-s4", 1), ("eva5-s4", 2)]
    again = missing_trials(records, DEFAULT_BASE, models, retry_failed=True)
    assert ("channel-exp3", 0) in [(t.model, t.seed) for t in again]
    reduced = missing_trials(records, {"train_subset": 10000, "device": "cpu"}, models)
    assert "s6-model1" not in [t.model for t in reduced]
    assert all(t.config.train_subset == 10000 for t in reduced)
