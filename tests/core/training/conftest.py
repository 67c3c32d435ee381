"""Fixtures the training tests share."""

from __future__ import annotations

import pytest


@pytest.fixture
def torch_threads(monkeypatch: pytest.MonkeyPatch):
    """Put torch's threads and the speed module's memory of them back after the test."""
    import torch

    from core.training import speed

    before = torch.get_num_threads()
    monkeypatch.setattr(speed, "_THREADS", {})
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    yield before
    torch.set_num_threads(before)
