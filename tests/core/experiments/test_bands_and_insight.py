"""Issue 25 in core: seed bands, the paired t-test, setting importance, parallel coordinates,
report figures and the CSV/JSON export, over recorded trials (no training)."""

from __future__ import annotations

import csv
import json
import math

import pytest

from core.errors import ConfigError
from core.experiments.curves import band, experiment_curves, recipe_curves
from core.experiments.export import export_trials, trials_csv
from core.experiments.insight import importance, parallel_coordinates, sweep_trials
from core.experiments.spec import ExperimentSpec, SearchSpec
from core.experiments.statistics import differences, group_stats, paired
from core.experiments.storage import ExperimentStore
from core.runs.store import RunStore
from tests.core.experiments.helpers import recorded_trial


def _history(accs: list[float]) -> list[dict[str, float]]:
    return [{"epoch": e, "test_acc": a, "test_loss": 1 / a} for e, a in enumerate(accs, 1)]


def test_band_is_mean_and_sample_std_over_the_epochs_every_seed_reached() -> None:
    b = band([_history([90, 95, 97]), _history([92, 97]), _history([94, 99, 98])], "test_acc")
    assert b is not None and b.epochs == [1, 2] and b.n == 3  # the second seed stopped at 2
    assert b.mean == pytest.approx([92.0, 97.0])
    assert b.std == pytest.approx([2.0, 2.0])  # n − 1: sqrt((4 + 0 + 4) / 2)
    assert b.lower() == pytest.approx([90.0, 95.0]) and b.upper() == pytest.approx([94.0, 99.0])
    single = band([_history([90, 95])], "test_acc")
    assert single is not None and single.std == [None, None] and single.lower() == [90, 95]
    assert band([_history([90]), []], "test_acc") is None  # no epoch shared by all
    assert band([[{"epoch": 1, "test_acc": math.nan}]], "test_acc") is None


def _sweep(tmp_path, finals: dict[str, list[float]]):  # type: ignore[no-untyped-def]
    """A 2 × 2 grid (augment × lr) over seeds 0-2, all on one model; finals by point label."""
    store = ExperimentStore(RunStore(tmp_path / "runs"))
    spec = ExperimentSpec("sw", model="dl-tiny-1k", seeds=[0, 1, 2],
                          search=SearchSpec("grid", {"augment": [0.0, 0.5], "lr": [0.01, 0.1]}))
    spec.validate()
    store.save(spec)
    store.save_points("sw", spec.grid_points())
    for point in spec.grid_points():
        for seed, final in zip(spec.seeds, finals[point.label], strict=True):
            recorded_trial(store.runs, "sw", f"p{point.index:03d}-s{seed}", [final - 5, final],
                           [final - 6, final - 1])
    return spec, store


# lr decides (≈ +20 points), augment barely (≈ ±0.5): importance must say so.
FINALS = {"augment=0 · lr=0.01": [60.0, 62.0, 61.0], "augment=0 · lr=0.1": [80.0, 81.0, 82.0],
          "augment=0.5 · lr=0.01": [60.5, 61.5, 61.0], "augment=0.5 · lr=0.1": [80.5, 81.0, 81.5]}


def test_experiment_curves_group_trials_by_point(tmp_path) -> None:
    _spec, store = _sweep(tmp_path, FINALS)
    curves = experiment_curves(store.states("sw"))
    assert [c.label for c in curves] == list(FINALS)
    first = curves[0]
    assert first.n == 3 and first.seeds == [0, 1, 2]
    assert first.bands["test_acc"].mean == pytest.approx([56.0, 61.0])
    assert first.bands["val_acc"].epochs == [1, 2]
    assert "train_loss" in first.bands and first.bands["test_acc"].std[1] == pytest.approx(1.0)


def test_runs_outside_experiments_group_by_config_without_the_seed(tmp_path) -> None:
    runs = RunStore(tmp_path / "runs")
    made = []
    for lr, seed, acc in ((0.1, 0, 90.0), (0.1, 1, 92.0), (0.2, 0, 80.0)):
        run = runs.create({"model": "dl-tiny-1k", "lr": lr, "seed": seed, "epochs": 1})
        run.record.history.append({"epoch": 1, "train_loss": 0.2, "train_acc": 95.0,
                                   "test_loss": 0.3, "test_acc": acc, "val_loss": None,
                                   "val_acc": None, "lr": lr, "seconds": 1.0,
                                   "samples_per_s": 900.0})
        run.record.epochs_done = 1
        run.mark("completed")
        made.append(runs.get(run.id).record)
    curves = recipe_curves(made)
    assert [c.n for c in curves] == [2, 1]
    assert curves[0].bands["test_acc"].mean == [91.0] and curves[0].seeds == [0, 1]
    assert [c.label for c in curves] == ["dl-tiny-1k (lr=0.1)", "dl-tiny-1k (lr=0.2)"]


def test_paired_t_test_by_hand() -> None:
    # Differences 1, 2, 3: mean 2, sd 1, t = 2 / (1 / √3) = 3.464 with 2 df: p = 0.0742.
    result = paired({0: 10.0, 1: 10.0, 2: 10.0, 3: 50.0}, {0: 11.0, 1: 12.0, 2: 13.0}, "A", "B")
    assert result is not None and result.n == 3
    assert result.diff == pytest.approx(2.0)
    assert result.p_value == pytest.approx(0.0742, abs=5e-4)
    assert result.half_width == pytest.approx(4.30265 / math.sqrt(3), abs=1e-4)
    assert "paired t-test over 3 seeds: +2.00 ± 2.48 points (95%), p = 0.0742: not beyond noise" \
        in result.text
    assert paired({0: 1.0}, {1: 2.0}) is None


def test_differences_add_the_paired_test_only_for_the_same_model_and_seeds(tmp_path) -> None:
    spec, store = _sweep(tmp_path, FINALS)
    lines = differences(group_stats(spec, store.states("sw")), "val_acc")
    assert sum("paired t-test over 3 seeds" in line for line in lines) == 3
    groups = group_stats(spec, store.states("sw"))
    other = groups[1].__class__(**{**groups[1].__dict__, "models": frozenset({"dl-other"})})
    assert all("paired" not in line for line in differences([groups[0], other], "val_acc")[1:])


def test_importance_names_the_setting_that_decides(tmp_path) -> None:
    spec, store = _sweep(tmp_path, FINALS)
    trials = sweep_trials(spec, store.states("sw"), "val_acc")
    assert len(trials) == 12
    ranking = importance(spec, trials, "val_acc")
    assert next(iter(ranking.scores)) == "lr" and ranking.scores["lr"] > 0.8
    assert sum(ranking.scores.values()) == pytest.approx(1.0)
    assert "PedAnovaImportanceEvaluator" in ranking.lines()[0]
    one = ExperimentSpec("one", search=SearchSpec("grid", {"lr": [0.01, 0.1]}))
    with pytest.raises(ConfigError, match="two or more swept settings"):
        importance(one, trials, "val_acc")


def test_parallel_coordinates_place_each_trial_on_every_axis(tmp_path) -> None:
    spec, store = _sweep(tmp_path, FINALS)
    trials = sweep_trials(spec, store.states("sw"), "val_acc")
    coords = parallel_coordinates(spec, trials, "val_acc")
    assert [a.name for a in coords.axes] == ["augment", "lr", "val_acc"]
    lr = coords.axes[1]
    assert lr.log and lr.ticks() == [(0.0, "0.01"), (1.0, "0.1")]  # a decade: log axis
    by_key = dict(zip(coords.keys, coords.lines, strict=True))
    assert by_key["p001-s1"][:2] == [0.0, 1.0]  # augment 0, lr 0.1
    best = max(coords.objective)
    assert by_key[coords.keys[coords.objective.index(best)]][2] == 1.0


def test_report_figures_are_pngs_linked_from_the_report(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from core.experiments.report_figures import links, sweep_insight, write_figures
    from core.experiments.statistics import markdown_report

    spec, store = _sweep(tmp_path, FINALS)
    states = store.states("sw")
    written = write_figures(spec, states, tmp_path / "out" / "figs", "sw")
    assert set(written) == {"curves", "sweep"}
    for path in written.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    text = markdown_report(spec, states, [], links(written, tmp_path / "out" / "r.md"),
                           sweep_insight(spec, states))
    assert "![Per recipe: mean over seeds with a ±1 std band](figs/sw-curves.png)" in text
    assert "](figs/sw-sweep.png)" in text and "- lr: 0.9" in text


def test_export_csv_has_a_row_per_trial_and_epoch_and_json_the_histories(tmp_path) -> None:
    spec, store = _sweep(tmp_path, FINALS)
    states = store.states("sw")
    rows = list(csv.DictReader(trials_csv(spec, states).splitlines()))
    assert len(rows) == 12 * 2
    first = rows[1]
    assert (first["trial"], first["seed"], first["epoch"], first["test_acc"]) == \
        ("p000-s0", "0", "2", "60.0")
    assert first["config.model"] == "dl-tiny-1k" and first["recipe"] == "augment=0 · lr=0.01"
    assert export_trials(spec, states, tmp_path / "t.json") == 12
    data = json.loads((tmp_path / "t.json").read_text())
    assert data["trials"][3]["history"][1]["val_acc"] == 80.0 - 1
    with pytest.raises(ConfigError, match=r"\.csv or \.json"):
        export_trials(spec, states, tmp_path / "t.xlsx")


def test_missing_extras_are_named_in_one_line(tmp_path, monkeypatch) -> None:
    import sys

    from core.experiments.report_figures import sweep_insight, write_figures

    spec, store = _sweep(tmp_path, FINALS)
    states = store.states("sw")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises
    with pytest.raises(ConfigError, match=r"pip install 'digitlab\[plots\]'"):
        write_figures(spec, states, tmp_path / "png", "sw")
    monkeypatch.setitem(sys.modules, "optuna", None)
    assert sweep_insight(spec, states) == [
        "Setting importance: not computed (Setting importance uses Optuna: pip install "
        "'digitlab[search]'.)"]
    import subprocess

    code = ("import sys, core.experiments.curves, core.experiments.insight, "
            "core.experiments.export, core.experiments.report_figures, core.onnx_io.explain;"
            "print(any(m in sys.modules for m in ('matplotlib', 'optuna', 'torch')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
