"""The fast path on each kind of device: the settings new runs take there, and model compilation.

One place decides how training is made fast, and the CLI, the GUI and the benchmarks all go
through it (`core.workflows.launch.new_run_config` applies `device_recipe`;
`core.training.loop` calls
`compile_for_training`). What it does per device:

- CPU: batch 128 (the fastest per image on small CPUs: the activations stay in cache) and
  `torch.compile`, which fuses BatchNorm, ReLU and pooling into the convolutions' neighbours.
- CUDA: the whole dataset and the augmentation already live on the GPU (core.training.loop); on top,
  batch 512 with the learning rate scaled by √4 = 2 (a quarter of the steps, each four times
  the work, so the GPU is busy instead of waiting on launches), bf16 autocast, channels_last,
  a fused optimizer and `torch.compile` with CUDA graphs.
- MPS: eager (torch.compile on Apple GPUs is not yet dependable).

Only our own models take the CUDA batch/learning-rate change: a seed model's recipe is kept as the
seed wrote it, so its results reproduce; compilation changes no results and applies to every model.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

CUDA_BATCH_SCALE = 4  # batch 128 → 512 on CUDA; the learning rate scales by its square root


def device_type_of(key: str) -> str:
    """'cuda:1' → 'cuda'; 'cpu', 'mps' unchanged; 'auto' → the fastest device present."""
    if key == "auto":
        from core.training.devices import available_devices

        key = available_devices()[0].key
    return key.split(":", 1)[0]


def device_recipe(device_type: str, recipe: dict[str, Any], is_ours: bool) -> dict[str, Any]:
    """TrainConfig overrides that make training fast on `device_type`, given the model's recipe."""
    if device_type == "cuda":
        fast: dict[str, Any] = {"compile": True, "amp": True}
        if is_ours and "batch_size" in recipe and "lr" in recipe:
            fast["batch_size"] = int(recipe["batch_size"]) * CUDA_BATCH_SCALE  # type: ignore[call-overload]
            fast["lr"] = float(recipe["lr"]) * CUDA_BATCH_SCALE ** 0.5  # type: ignore[arg-type]
        return fast
    if device_type == "cpu":
        return {"compile": True}
    return {"compile": False}


def cpu_computes_bf16() -> bool:
    """Whether this CPU has bf16 arithmetic in hardware (AVX512-BF16 or AMX): there, bf16
    autocast makes a dl-dilated-8k training step ~1.6x faster (eager, 2-core EPYC: 20 ms
    against 33 ms at batch 128); without it bf16 is emulated and slower than fp32."""
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)


def autocast_bf16(config: Any, device: torch.device) -> bool:
    """Whether a run trains under bf16 autocast: on CUDA with `config.amp`, on a CPU with
    `config.cpu_bf16` where the CPU computes bf16 natively; never on MPS."""
    if device.type == "cuda":
        return bool(config.amp)
    if device.type == "cpu":
        return bool(getattr(config, "cpu_bf16", False)) and cpu_computes_bf16()
    return False


_THREADS: dict[str, int] = {}  # "default": torch's count before our first change; "set": ours


def threads_to_try() -> list[int] | None:
    """Torch CPU thread counts a time-budget run may time on its first steps: 1 and all cores
    (torch's own count). None where the count is someone else's choice: OMP_NUM_THREADS, or a
    `torch.set_num_threads` since our last change (an experiment's `--threads`).

    Why measure instead of reading the load: every layer ends with the threads waiting for each
    other, so two threads where another program holds a core were ~10x slower than one (a
    dl-dilated-8k step: 300-550 ms with 2, ~100 ms with 1, load 7), while on an idle machine
    the second core pays; and the 1-minute load average still counts a run that ended seconds
    ago, so back-to-back runs on an idle machine read it as busy.
    """
    import torch

    if os.environ.get("OMP_NUM_THREADS"):
        return None
    current = torch.get_num_threads()
    if "set" in _THREADS and current != _THREADS["set"]:
        return None
    default = _THREADS.get("default", current)
    _THREADS["default"] = default
    return sorted({1, default})


def set_threads(count: int) -> None:
    """Set torch's CPU threads, remembering that this count is ours (see `threads_to_try`)."""
    import torch

    torch.set_num_threads(count)
    _THREADS["set"] = count


def choose_threads(step_seconds: dict[int, float], margin: float = 0.05) -> int:
    """The thread count whose training steps were fastest (median seconds per step); one within
    `margin` of the fastest with fewer threads wins: it leaves cores to everything else."""
    best = min(step_seconds.values())
    return min(n for n, s in step_seconds.items() if s <= best * (1 + margin))


def compile_unavailable_reason(device: torch.device) -> str:
    """Why torch.compile cannot run on `device` here ("" when it can)."""
    if getattr(sys, "frozen", False):
        return "the packaged app has no compiler toolchain"
    if device.type == "cpu":
        if not any(shutil.which(cc) for cc in ("c++", "g++", "clang++", "cl")):
            return "no C++ compiler was found (install one, e.g. build-essential or Xcode tools)"
        return ""
    if device.type == "cuda":
        try:
            import triton  # noqa: F401
        except ImportError:
            return "Triton is not installed"
        return ""
    return f"it is not dependable on {device.type} yet"


def use_persistent_compile_cache() -> None:
    """Keep torch.compile's caches (FX graphs, AOTAutograd, kernels) under DigitLab's cache folder.

    torch's default, /tmp/torchinductor_<user>, is emptied by a reboot, and then the next compile
    of the flagship takes ~50 s instead of ~2 s on the 2-core machine. A folder the user chose
    with TORCHINDUCTOR_CACHE_DIR wins. Must run before the first compile in the process: torch
    reads the variable once.
    """
    if not os.environ.get("TORCHINDUCTOR_CACHE_DIR"):
        from core.paths import cache_dir

        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cache_dir() / "torchinductor")


@dataclass
class CompiledModel:
    forward: Any  # the callable used for training steps (the compiled module, or the model itself)
    seconds: float  # compile + warm-up time, spent before the first epoch
    note: str  # what happened, for the log: "compiled in 3.1 s" or why it runs eagerly


@contextlib.contextmanager
def weights_put_back(model: torch.nn.Module) -> Iterator[None]:
    """Whatever runs inside (warm-up or timing steps) leaves `model`'s weights and buffers as
    they were, and no gradients."""
    import torch

    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    try:
        yield
    finally:
        with torch.no_grad():
            for k, v in model.state_dict().items():
                v.copy_(saved[k])
        model.zero_grad(set_to_none=True)


def compile_for_training(model: torch.nn.Module, sample: torch.Tensor,
                         use_amp: bool) -> CompiledModel:
    """Compile `model` and warm it up on `sample` (a real input batch) without changing it.

    The warm-up runs forward and backward so both graphs are built before epoch 1 (its time is
    reported apart from the epochs); weights, BatchNorm statistics and gradients are put back
    exactly, so a compiled run trains the same steps as an eager one. Any failure falls back
    to the eager model with the reason, never stopping training.
    """
    import torch

    device = sample.device
    reason = compile_unavailable_reason(device)
    if reason:
        return CompiledModel(model, 0.0, f"Training eagerly: torch.compile skipped ({reason}).")
    use_persistent_compile_cache()
    from core.training import compile_cache

    key = compile_cache.cache_key(model, sample, use_amp)
    was_warm = compile_cache.is_warm(key)
    t0 = time.perf_counter()
    with weights_put_back(model):
        try:
            # CUDA graphs ("reduce-overhead") replay each step as one launch; on the CPU there
            # are no launches to save, only fusion.
            mode = "reduce-overhead" if device.type == "cuda" else "default"
            if device.type == "cpu":
                # Kernels read the thread count when they run instead of baking it in: one
                # cached compilation serves every count (time-budget runs time them).
                import torch._inductor.config as inductor_config

                inductor_config.cpp.dynamic_threads = True
            compiled = torch.compile(model, mode=mode, dynamic=False)
            for _ in range(3 if device.type == "cuda" else 1):  # CUDA graphs record later
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                    out = compiled(sample)
                out.float().sum().backward()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
        except Exception as e:  # any compiler failure means: train eagerly
            compiled, reason = model, f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
    seconds = time.perf_counter() - t0
    if compiled is model:
        return CompiledModel(model, seconds, f"Training eagerly: torch.compile failed ({reason}).")
    compile_cache.mark_warm(key, seconds, was_warm)  # the next run knows it will be quick
    return CompiledModel(compiled, seconds, f"Compiled the model for {device.type} in "
                                            f"{seconds:.1f} s, before its first step.")
