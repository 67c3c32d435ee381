"""Without the optional extras, asking for them says what to install (one line, no traceback)."""

from __future__ import annotations

import sys

import pytest

from core.errors import ConfigError
from core.experiments.runner import run_experiment
from core.experiments.spec import ExperimentSpec, Range, SearchSpec
from core.experiments.storage import ExperimentStore
from core.runs.store import RunStore


def test_ray_missing_names_the_cluster_extra(monkeypatch) -> None:
    from core.experiments.ray_executor import import_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'digitlab\[cluster\]'"):
        import_ray()


def test_optuna_missing_names_the_search_extra(monkeypatch, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)
    spec = ExperimentSpec("r", model="dl-tiny-1k", base={"val_split": 100, "device": "cpu"},
                          search=SearchSpec("random", {"lr": Range(0.01, 0.1)}, n_trials=2))
    spec.validate()
    with pytest.raises(ConfigError, match=r"pip install 'digitlab\[search\]' \(or use a grid\)"):
        run_experiment(spec, executor=None, store=ExperimentStore(RunStore(tmp_path / "r")))  # type: ignore[arg-type]


def test_importing_the_experiments_package_imports_neither(monkeypatch) -> None:
    import subprocess

    code = ("import sys, core.experiments.runner, core.experiments.local, core.cli.experiment;"
            "print(any(m in sys.modules for m in ('ray', 'optuna', 'torch')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
