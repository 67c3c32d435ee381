"""The per-device fast path: recipes each device takes, and torch.compile on the CPU for real."""

from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F

from core.models import build_model
from core.training.config import TrainConfig
from core.training.loop import train
from core.training.speed import compile_for_training, compile_unavailable_reason, device_recipe
from core.workflows.launch import new_run_config


def test_cuda_recipe_scales_batch_and_lr_for_our_models_only() -> None:
    ours = new_run_config({"model": "dl-flagship-8k"}, device_type="cuda")
    cpu = new_run_config({"model": "dl-flagship-8k"}, device_type="cpu")
    assert (cpu.batch_size, ours.batch_size) == (128, 512)
    assert ours.lr == pytest.approx(cpu.lr * 2)
    assert ours.compile and cpu.compile and ours.amp
    seed = new_run_config({"model": "s6-model1"}, writeup_recipe=True, device_type="cuda")
    seed_cpu = new_run_config({"model": "s6-model1"}, writeup_recipe=True, device_type="cpu")
    assert (seed.batch_size, seed.lr) == (seed_cpu.batch_size, seed_cpu.lr)  # as the seed wrote it
    assert seed.compile  # compiling changes no result, so every model gets it


def test_user_choices_beat_the_device_recipe() -> None:
    config = new_run_config({"model": "dl-flagship-8k", "batch_size": 64, "compile": False},
                            device_type="cuda")
    assert (config.batch_size, config.compile) == (64, False)
    assert not device_recipe("mps", {}, True)["compile"]


def test_no_compiler_or_packaged_app_trains_eagerly(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    monkeypatch.setenv("PATH", "")
    assert "C++ compiler" in compile_unavailable_reason(cpu)
    model = build_model("dl-tiny-1k")
    result = compile_for_training(model, torch.zeros(8, 1, 28, 28), use_amp=False)
    assert result.forward is model and "Training eagerly" in result.note
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert "packaged app" in compile_unavailable_reason(cpu)


needs_compiler = pytest.mark.skipif(bool(compile_unavailable_reason(torch.device("cpu"))),
                                    reason="torch.compile cannot run on this CPU (no C++ compiler)")


@pytest.mark.slow
@needs_compiler
def test_compiled_forward_matches_eager_and_leaves_the_model_untouched() -> None:
    torch.manual_seed(0)
    model = build_model("dl-tiny-1k")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(32, 1, 28, 28)
    result = compile_for_training(model, x, use_amp=False)
    assert result.forward is not model, result.note
    assert "Compiled" in result.note and result.seconds > 0
    for key, value in model.state_dict().items():  # warm-up put weights and BN stats back
        assert torch.equal(value, before[key]), key
    assert all(p.grad is None for p in model.parameters())
    eager_loss = F.cross_entropy(model(x), torch.arange(32) % 10)
    model.load_state_dict(before)
    compiled_loss = F.cross_entropy(result.forward(x), torch.arange(32) % 10)
    assert compiled_loss.item() == pytest.approx(eager_loss.item(), rel=1e-4)


@pytest.mark.slow
@needs_compiler
def test_compiled_training_learns_like_eager(mnist) -> None:
    small = dict(model="dl-tiny-1k", device="cpu", train_subset=2000, test_subset=500,
                 batch_size=64, epochs=2, optimizer="adam", lr=0.02, seed=1)
    eager = train(TrainConfig(**small), data=mnist)
    compiled = train(TrainConfig(**small, compile=True), data=mnist)
    assert compiled.compile_seconds > 0
    # Same steps, same data order; only the float rounding of fused kernels differs.
    a, b = eager.history[-1], compiled.history[-1]
    assert abs(a.train_loss - b.train_loss) < 0.05 * a.train_loss
    assert abs(a.test_acc - b.test_acc) < 3.0
    assert b.test_acc > 50  # chance is 10%; measured 68% for both after these 62 steps
