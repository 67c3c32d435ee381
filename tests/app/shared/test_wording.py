"""Counts read as English (issue 26.6: '1 epochs', '1 threads', 'with their checkpoints' for one
run), by one rule (core.text.plural, which the GUI's wording helper is), and an experiment
without a validation split does not claim to choose on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.compare.experiments_view import ExperimentsView
from app.shared import wording
from core import text
from core.experiments.spec import ExperimentSpec, SearchSpec
from core.experiments.storage import ExperimentStore
from core.runs.store import RunStore
from tests.core.experiments.helpers import recorded_trial


def test_plural_has_one_owner() -> None:
    assert wording.plural is text.plural
    assert [text.plural(n, "epoch") for n in (0, 1, 2)] == ["0 epochs", "1 epoch", "2 epochs"]
    assert text.plural(3, "its", "their") == "3 their"


def test_one_cpu_thread_is_one_thread() -> None:
    torch = pytest.importorskip("torch")
    from core.training.devices import available_devices

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        cpu = next(d for d in available_devices() if d.key == "cpu")
        assert cpu.label.endswith(", 1 thread")
    finally:
        torch.set_num_threads(threads)


def _experiment(tmp_path: Path, val: bool) -> ExperimentStore:
    runs = RunStore(tmp_path / "runs")
    experiments = ExperimentStore(runs)
    spec = ExperimentSpec("one", seeds=[0], search=SearchSpec("grid", {"lr": [0.01]}))
    spec.validate()
    experiments.save(spec)
    experiments.save_points(spec.name, spec.grid_points())
    recorded_trial(runs, "one", "p000-s0", [99.0, 99.1], [98.5, 98.6] if val else None)
    return experiments


@pytest.mark.parametrize("val", [True, False])
def test_the_experiment_says_whether_it_chooses(qtbot, tmp_path: Path, val: bool) -> None:
    view = ExperimentsView(_experiment(tmp_path, val))
    qtbot.addWidget(view)
    about = view.about_label.text()
    assert "one: 1 trial, 1 finished" in about
    if val:
        assert "choices on validation accuracy" in about
    else:
        assert "choices on" not in about and "no validation split" in about
