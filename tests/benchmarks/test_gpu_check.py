"""benchmarks/gpu_check.py runs end to end (its --smoke mode, on the CPU) and prints JSON lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_check_smoke_prints_every_line(mnist_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ, "DIGITLAB_DATA": str(mnist_dir), "DIGITLAB_BENCH_RECORDS": ""}
    out = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--smoke"], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert [line["kind"] for line in lines] == ["env", "warmup", "run", "run", "summary"]
    summary = lines[-1]
    assert summary["smoke"] and summary["seeds"] == [0, 1] and summary["epochs"] == 1
    for run in lines[2:4]:
        assert 0 <= run["final_test_acc"] <= 100 and run["wall_s"] > 0 and run["epochs"] == 1
    assert set(summary) >= {"mean_test_acc", "mean_wall_s", "mean_compile_s",
                            "mean_time_to_99.0", "mean_time_to_99.4", "wall_target_met"}
