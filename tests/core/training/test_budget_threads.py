"""Time-budget runs on the CPU take as many torch threads as the machine's load leaves cores."""

from __future__ import annotations

import os

import pytest
import torch

from core.training import speed
from core.training.speed import threads_for_load, use_threads_for_load


def test_threads_follow_the_free_cores() -> None:
    assert threads_for_load(2, 0.1) == 2  # idle: every core
    assert threads_for_load(2, 1.2) == 1  # one core busy elsewhere
    assert threads_for_load(2, 11.0) == 1  # a crowded machine: never fewer than one
    assert threads_for_load(8, 3.0) == 5


@pytest.fixture
def torch_threads(monkeypatch: pytest.MonkeyPatch):
    """Put torch's threads and the module's memory of them back after the test."""
    before = torch.get_num_threads()
    monkeypatch.setattr(speed, "_THREADS", {})
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    yield
    torch.set_num_threads(before)


def test_a_busy_machine_gets_one_thread_and_an_idle_one_all_again(
        torch_threads, monkeypatch: pytest.MonkeyPatch) -> None:
    start = torch.get_num_threads()
    monkeypatch.setattr(os, "getloadavg", lambda: (start + 5.0, 0.0, 0.0))
    assert use_threads_for_load() == 1 and torch.get_num_threads() == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert use_threads_for_load() == start and torch.get_num_threads() == start


def test_threads_someone_chose_are_left_alone(torch_threads,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "getloadavg", lambda: (50.0, 0.0, 0.0))
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert use_threads_for_load() is None
    monkeypatch.delenv("OMP_NUM_THREADS")
    use_threads_for_load()
    torch.set_num_threads(3)  # an experiment's choice after ours
    assert use_threads_for_load() is None and torch.get_num_threads() == 3


@pytest.mark.slow
@pytest.mark.skipif(bool(speed.compile_unavailable_reason(torch.device("cpu"))),
                    reason="torch.compile cannot run on this CPU (no C++ compiler)")
def test_a_compiled_model_runs_right_with_another_thread_count(torch_threads) -> None:
    """Compiled kernels read the thread count when they run (cpp.dynamic_threads): the model
    compiled with torch's threads gives the eager answer with one thread too."""
    from core.models import build_model

    torch.manual_seed(0)
    model = build_model("dl-tiny-1k").eval()
    x = torch.randn(16, 1, 28, 28)
    compiled = speed.compile_for_training(model, x, use_amp=False)
    assert compiled.forward is not model, compiled.note
    import torch._inductor.config as inductor_config

    assert inductor_config.cpp.dynamic_threads  # one cache entry for every thread count
    torch.set_num_threads(1)
    with torch.no_grad():
        assert torch.allclose(compiled.forward(x), model(x), atol=1e-5)
