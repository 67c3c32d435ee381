"""A GPU out of memory reaches CLI and GUI as one user-facing message (core.workflows.launch)."""

from __future__ import annotations

import pytest

import core.training.loop
from core.errors import ConfigError
from core.runs.store import RunStore
from core.training.config import TrainConfig
from core.workflows.launch import explain_out_of_memory, start_training


class OutOfMemoryError(RuntimeError):
    """Named like torch.cuda.OutOfMemoryError, which only exists where CUDA does."""


def test_out_of_memory_errors_are_explained() -> None:
    for error in (OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                  RuntimeError("MPS backend out of memory (MPS allocated: 1.2 GB)")):
        explained = explain_out_of_memory(error)
        assert isinstance(explained, ConfigError)
        assert "ran out of memory" in str(explained) and "batch size" in str(explained)


def test_other_errors_are_left_alone() -> None:
    assert explain_out_of_memory(RuntimeError("shape mismatch")) is None
    assert explain_out_of_memory(ValueError("out of memory")) is None  # not torch's kind


def test_start_training_raises_the_explained_error(mnist_dir, monkeypatch) -> None:
    def out_of_memory(*args, **kwargs):
        raise OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(core.training.loop, "train", out_of_memory)
    config = TrainConfig(model="dl-tiny-1k", device="cpu", epochs=1, data_dir=str(mnist_dir))
    with pytest.raises(ConfigError, match="ran out of memory") as raised:
        start_training(config, store=RunStore())
    assert isinstance(raised.value.__cause__, OutOfMemoryError)  # torch's text kept for details
