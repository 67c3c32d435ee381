"""The CUDA fast path, for real, on a machine with an NVIDIA GPU (skipped elsewhere).

The same code runs on the CPU in tests/test_fast.py and tests/test_train.py; these check what
only a GPU has: bf16 autocast, channels_last, the fused optimizer and CUDA graphs.
"""

from __future__ import annotations

import pytest
import torch

from core.training.loop import train
from core.training.state import build_optimizer
from core.workflows.launch import new_run_config

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


def test_cuda_run_uses_the_fast_path_and_learns(mnist) -> None:
    config = new_run_config({"model": "dl-flagship-8k", "device": "cuda", "epochs": 2,
                             "train_subset": 10240, "test_subset": 2000})
    assert (config.batch_size, config.compile, config.amp) == (512, True, True)
    result = train(config, data=mnist)
    assert result.compile_seconds > 0
    assert result.history[-1].test_acc > 90
    model = result.model
    assert model is not None and next(model.parameters()).is_cuda
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)


def test_cuda_optimizer_is_fused() -> None:
    from core.models import build_model

    config = new_run_config({"model": "dl-flagship-8k", "device": "cuda"})
    optimizer = build_optimizer(config, build_model(config.model).cuda())
    assert optimizer.defaults.get("fused") is True
