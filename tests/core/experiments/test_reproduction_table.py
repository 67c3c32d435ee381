"""docs/REPRODUCTION.md from the records only: verdicts and summary counts, pending rows, the
plan, other budgets kept apart, and no machine's path anywhere in it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from core.experiments.reproduction_records import PLAN_FILE, PLAN_FORMAT
from core.experiments.reproduction_table import PENDING, reproduction_markdown
from core.runs.store import RunStore
from tests.core.cli.test_cli import cli
from tests.core.experiments.test_reproduction import write_trial_record


def _row(text: str, model: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"| {model} |"))


def _no_absolute_paths(text: str, *paths: Path) -> None:
    for path in paths:
        assert str(path) not in text
    assert "/work/" not in text and "/home/" not in text and "/tmp" not in text
    assert not re.search(r"(^|[\s(`'\"])/[A-Za-z]", text), "an absolute path in the table"
    assert not re.search(r"[A-Za-z]:\\\\", text)


def test_without_records_every_row_is_pending_and_the_plan_unmeasured(tmp_path) -> None:
    text = reproduction_markdown(tmp_path / "no-records-yet")
    assert "**Plan**: not yet measured." in text
    assert "of the 14 accuracy claims, 0 reproduced, 0 beaten, 0 not reproduced, 14 pending." \
        in text
    for model in ("eva5-s4", "review-option-a", "channel-exp3"):
        assert f"| – | – | – | – | – | – | {PENDING}" in _row(text, model)
    assert "Wrong in the write-up: review-iter4 (26,202 stated, 26,870 in the layers it " \
           "states); review-option-b (10,538 stated, 10,738 in the layers it states); " \
           "channel-exp1 (21,000 stated, 480,176 in the layers it states)." in text
    assert "s6-model2-dws (7,262 stated, 7,082 in DigitLab's net)" in text  # a sketch: ours
    assert "*MNIST Optimization Playground*" in text  # write-ups named by their title
    assert "**Not yet trained on the full set** (19 of 19)" in text
    _no_absolute_paths(text, tmp_path)


def test_verdicts_and_summary_counts_from_synthetic_records(tmp_path) -> None:
    folder, runs = tmp_path / "records", RunStore(tmp_path / "runs")
    for seed, last in enumerate([99.50, 99.58, 99.49]):  # claim 99.52 (last logged): mean 99.52
        write_trial_record(folder, runs, "eva5-s4", seed, [99.0] * 18 + [last], params=9274)
    write_trial_record(folder, runs, "channel-exp3", 0, [97.0, 97.65])  # claim 88.87: beaten
    write_trial_record(folder, runs, "pg-model3", 0, [98.0, 98.8, 98.7])  # best 98.80 vs 99.19
    write_trial_record(folder, runs, "s6-model1", 0, [40.0], status="failed",
                       error="diverged at epoch 2")
    write_trial_record(folder, runs, "s6-model2-dws", 0, [99.0] * 14 + [99.20])  # 99.35: -0.15
    write_trial_record(folder, runs, "pg-model1", 0, [10.3, 11.35])  # did not learn
    write_trial_record(folder, runs, "review-option-a", 0, [99.3])  # no claim
    write_trial_record(folder, runs, "s6-model3-se", 0, [98.0],  # only a 10k budget: not judged
                       base={"train_subset": 10000, "device": "cpu"})
    text = reproduction_markdown(folder)
    assert ("of the 14 accuracy claims, 2 reproduced, 1 beaten, 2 not reproduced, 1 failed, "
            "8 pending.") in text
    assert "Reproduced: s6-model2-dws, eva5-s4. Beaten: channel-exp3. Not reproduced: " \
           "pg-model1, pg-model3. Failed: s6-model1." in text
    assert "Judged on seed 0 alone so far (seeds 1 and 2 to come): s6-model2-dws." in text
    eva = _row(text, "eva5-s4")
    assert "| 0, 1, 2 | 99.52 ± 0.05% (99.50, 99.58, 99.49) |" in eva
    assert "claim reproduced (mean of 3 seeds last logged +0.00 points)" in eva
    assert "provisional" not in eva
    assert "claim beaten (final +8.78 points)" in _row(text, "channel-exp3")
    pg3 = _row(text, "pg-model3")
    assert "not reproduced: -0.39 points against the claim (one seed" in pg3  # best, not final
    assert "parameters differ from the claim by -5,602" not in pg3  # counted, not the run's
    assert "parameters differ from the claim by -728" in pg3
    assert "did not learn: 11.35%" in _row(text, "pg-model1")
    assert "failed after 1 of 15 epochs: diverged at epoch 2" in _row(text, "s6-model1")
    assert "provisional: 2 more seed(s) to run" in _row(text, "s6-model2-dws")
    assert "| no accuracy claimed" in _row(text, "review-option-a")
    s6 = _row(text, "s6-model3-se")
    assert PENDING in s6 and "train_subset=10000, seed 0: final 98.00%" in s6
    assert "Other budgets (not judged) |" in text
    assert "**Machine**: " in text and "the 8 recorded trials" in text  # completed, full set
    _no_absolute_paths(text, tmp_path)


def test_a_record_trained_with_another_recipe_is_flagged(tmp_path) -> None:
    folder, runs = tmp_path / "records", RunStore(tmp_path / "runs")
    write_trial_record(folder, runs, "pg-model3", 0, [99.1], config_changes={"lr": 0.1,
                                                                              "epochs": 1})
    row = _row(reproduction_markdown(folder), "pg-model3")
    assert "seed 0's record used other settings than its recipe gives today (epochs, lr)" in row


def test_the_plan_is_rendered_from_plan_json_and_a_smoke_check_is_not_a_plan(tmp_path) -> None:
    folder, runs = tmp_path / "records", RunStore(tmp_path / "runs")
    write_trial_record(folder, runs, "pg-model1", 0, [98.6])
    plan = {"format": PLAN_FORMAT, "version": 1, "smoke": False, "date": "2026-12-06",
            "threads": 2, "commit": "0123456789abcdef", "machine": {"cpu": "Test CPU",
                                                                    "cores": 2},
            "models": [{"model": "pg-model1", "epochs": 15, "epoch_seconds": 240.0,
                        "compile_seconds": 30.0, "estimated_hours": 1.01},
                       {"model": "eva5-s4", "epochs": 19, "epoch_seconds": 300.0,
                        "compile_seconds": 20.0, "estimated_hours": 1.59},
                       {"model": "review-option-a", "epochs": 15, "epoch_seconds": 400.0,
                        "compile_seconds": 20.0, "estimated_hours": 1.67}]}
    (folder / PLAN_FILE).write_text(json.dumps(plan))
    text = reproduction_markdown(folder)
    assert "Seed 0 of every model: 4.3 h; at most 9.5 h if every claimed model needs seeds 1 " \
           "and 2 as well; 3.3 h of seed-0 trials left." in text
    assert "| pg-model1 | 15 | 240 | 30 | 1.01 | yes |" in text
    assert "| eva5-s4 | 19 | 300 | 20 | 1.59 | not yet |" in text
    assert "Test CPU, 2 cores, 2 torch threads; commit 0123456789ab" in text
    (folder / PLAN_FILE).write_text(json.dumps({**plan, "smoke": True}))
    assert "**Plan**: not yet measured (plan.json holds only a smoke check" in \
        reproduction_markdown(folder)
    (folder / PLAN_FILE).write_text(json.dumps({**plan, "models": [{"model": "x"}]}))
    assert "**Plan**: unusable (plan.json's 'models' must list" in reproduction_markdown(folder)


def test_report_reproduction_on_the_command_line(tmp_path) -> None:
    folder, runs = tmp_path / "records", RunStore(tmp_path / "runs")
    write_trial_record(folder, runs, "channel-exp3", 0, [97.65])
    out = tmp_path / "REPRODUCTION.md"
    done = cli("report", "--reproduction", "--records", str(folder), "-o", str(out))
    assert done.stdout.strip() == f"Wrote {out}."
    assert "claim beaten (final +8.78 points)" in _row(out.read_text(), "channel-exp3")
    missing = cli("report", "--reproduction", "--records", str(tmp_path / "nope"), check=False)
    assert missing.returncode == 2 and "No reproduction records folder" in missing.stderr
    assert "Traceback" not in missing.stderr
