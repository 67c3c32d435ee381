"""`experiment report NAME --plots DIR` and `experiment export NAME -o FILE` (issue 25)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from core.experiments.storage import ExperimentStore
from tests.core.cli.test_cli import cli
from tests.core.experiments.test_bands_and_insight import FINALS, _sweep


def _store(tmp_path: Path) -> None:
    """The 2 × 2 sweep over three seeds, in the test's DIGITLAB_HOME (where the CLI looks)."""
    _sweep(ExperimentStore().runs.root.parent, FINALS)


def test_report_with_plots_writes_pngs_and_links_them(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    pytest.importorskip("optuna")
    _store(tmp_path)
    out = tmp_path / "report" / "sw.md"
    out.parent.mkdir()
    proc = cli("experiment", "report", "sw", "--plots", str(tmp_path / "report" / "png"),
               "-o", str(out))
    assert "sw-curves.png" in proc.stderr and "sw-sweep.png" in proc.stderr
    text = out.read_text()
    assert "](png/sw-curves.png)" in text and "](png/sw-sweep.png)" in text
    assert "PedAnovaImportanceEvaluator" in text and "paired t-test over 3 seeds" in text
    assert (tmp_path / "report" / "png" / "sw-sweep.png").read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "afile").write_text("x")
    bad = cli("experiment", "report", "sw", "--plots", str(tmp_path / "afile"), check=False)
    assert bad.returncode == 2 and "is a file" in bad.stderr and "Traceback" not in bad.stderr


def test_export_writes_csv_and_json_and_refuses_other_suffixes(tmp_path: Path) -> None:
    _store(tmp_path)
    proc = cli("experiment", "export", "sw", "-o", str(tmp_path / "sw.csv"))
    assert "24 rows" in proc.stdout
    rows = list(csv.DictReader((tmp_path / "sw.csv").read_text().splitlines()))
    assert {r["trial"] for r in rows} == {f"p00{p}-s{s}" for p in range(4) for s in range(3)}
    cli("experiment", "export", "sw", "-o", str(tmp_path / "sw.json"))
    assert len(json.loads((tmp_path / "sw.json").read_text())["trials"]) == 12
    bad = cli("experiment", "export", "sw", "-o", str(tmp_path / "sw.xlsx"), check=False)
    assert bad.returncode == 2 and ".csv or .json" in bad.stderr
