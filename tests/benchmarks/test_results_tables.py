"""Benchmark results are traceable: records carry commit, machine, date and command; the tables
of benchmarks/RESULTS.md are generated from them; figures quoted elsewhere match them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import results_tables  # a script in scripts/, not a package

RECORDS = results_tables.read_records()


def _frontier(model: str, seeds: int) -> dict:
    """The latest current (not history) test-set frontier record of `model` over `seeds` seeds."""
    zoo = results_tables._zoo()
    found = [r for r in RECORDS if r["benchmark"] == "frontier"
             and r["figures"]["model"] == model and r["figures"].get("split", "test") == "test"
             and len(r["figures"]["per_seed"]) == seeds
             and not results_tables.history_reason(r, zoo)]
    assert found, f"no current {seeds}-seed frontier record of {model} in records.jsonl"
    return found[-1]["figures"]


def test_results_md_is_what_the_records_say() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "results_tables.py"),
                           "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_every_record_is_traceable() -> None:
    for r in RECORDS:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", r["date"]) and r["machine"]["name"], r
        assert r["command"] and r["figures"], r
        if r.get("source") == "imported from RESULTS.md":
            assert re.fullmatch(r"[0-9a-f]{40}", r["recorded_in"]), r
        else:
            assert re.fullmatch(r"[0-9a-f]{40}", r["commit"] or ""), r


def test_model_descriptions_quote_the_records() -> None:
    from core.models import list_models

    checked = 0
    for spec in list_models():
        text = " ".join(spec.description.split())
        match = re.search(r"(\d+) seeds[^:]*: test mean ([\d.]+)% \(([\d.]+)-([\d.]+)%\)", text)
        if not match:
            continue
        figures = _frontier(spec.name, int(match.group(1)))
        stated = tuple(float(match.group(i)) for i in (2, 3, 4))
        assert stated == (figures["mean"], figures["min"], figures["max"]), spec.name
        checked += 1
    assert checked >= 6  # every one of our models quotes its frontier


def test_readme_quotes_the_records() -> None:
    readme = " ".join((REPO / "README.md").read_text().split())
    quotes = re.findall(r"\*\*(dl-[\w-]+) ([\d.]+)%\*\*(?: mean)? \(([\d.]+)–([\d.]+)%\)", readme)
    assert len(quotes) >= 3, quotes
    for model, mean, low, high in quotes:
        figures = _frontier(model, 5)
        assert (float(mean), float(low), float(high)) == (
            figures["mean"], figures["min"], figures["max"]), model
    startup = re.search(r"usable in under a second \(([\d.]+) s measured", readme)
    gui = [r for r in RECORDS if r["benchmark"] == "gui"][-1]["figures"]
    assert startup and float(startup.group(1)) == round(gui["startup_median_s"], 2)


def test_rows_whose_code_is_gone_are_history(tmp_path: Path) -> None:
    base = {"date": "2026-12-01", "machine": {"name": "m"}, "commit": "a" * 40,
            "command": "python benchmarks/bench_draw_latency.py",
            "figures": {"model": "dl-dilated-8k", "preprocess_p50_ms": 0.3,
                        "total_p50_ms": 0.4, "total_p99_ms": 0.6}}
    zoo = results_tables._zoo()
    records = [{**base, "benchmark": "draw_latency"},
               {**base, "benchmark": "draw_latency", "figures": {**base["figures"],
                                                                 "model": "dl-gone"}},
               {**base, "benchmark": "draw_latency", "command": "python benchmarks/bench_x.py"},
               {**base, "benchmark": "frontier", "figures": {
                   "model": "dl-dilated-8k", "recipe": {"lr": 123.0}, "per_seed": [],
                   "mean": 1, "min": 1, "max": 1, "min_last3": 1, "mean_15_epochs_s": 1,
                   "mean_compile_s": 1}}]
    reasons = [results_tables.history_reason(r, zoo) for r in records]
    assert reasons[0] == ""
    assert "no longer in the zoo" in reasons[1] and "bench_x.py is gone" in reasons[2]
    assert "recipe changed" in reasons[3] and "lr" in reasons[3]
    table = next(t for t in results_tables.TABLES if t.name == "draw_latency")
    rows = results_tables.render(table, records[:3], zoo).splitlines()[2:]
    assert rows[0].endswith("| aaaaaaa |")
    assert "history: dl-gone is no longer in the zoo" in rows[1] and "history:" in rows[2]


def test_benchmarks_record_commit_machine_date_and_command(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    script = tmp_path / "bench_probe.py"
    script.write_text(f"import sys; sys.path.insert(0, {str(REPO / 'benchmarks')!r})\n"
                      "from _common import emit\n"
                      "emit('probe', {'x': 1.5}, 'probe: 1.5')\n")
    env = {**os.environ, "DIGITLAB_BENCH_RECORDS": str(records), "DIGITLAB_MACHINE": "ci-box"}
    out = subprocess.run([sys.executable, str(script), "--flag", "a b"], cwd=REPO, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "probe: 1.5"
    (record,) = [json.loads(line) for line in records.read_text().splitlines()]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                          text=True, check=True).stdout.strip()
    assert record["benchmark"] == "probe" and record["figures"] == {"x": 1.5}
    assert record["commit"] == head and isinstance(record["dirty"], bool)
    assert record["machine"]["name"] == "ci-box" and record["machine"]["cores"] >= 1
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", record["date"])
    assert record["command"].endswith("bench_probe.py --flag 'a b'")


@pytest.mark.parametrize("bench", sorted(p.name for p in (REPO / "benchmarks").glob("bench_*.py")))
def test_every_benchmark_reports_through_the_recording_helper(bench: str) -> None:
    text = (REPO / "benchmarks" / bench).read_text()
    assert re.search(r"^from _common import .*\bemit\b", text, flags=re.MULTILINE)
    assert "emit(" in text
