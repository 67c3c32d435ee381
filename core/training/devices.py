"""Which accelerators are present, and which one to train on."""

from __future__ import annotations

import logging
import platform
from dataclasses import dataclass

from core.errors import ConfigError
from core.text import plural


@dataclass(frozen=True)
class DeviceInfo:
    key: str  # what TrainConfig.device accepts: "cpu", "cuda:0", "mps"
    label: str  # what a user reads: "NVIDIA H100 80GB HBM3 (cuda:0)"


def _drop_no_cuda_runtime_warning(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("No CUDA runtime is found")


def available_devices() -> list[DeviceInfo]:
    """Every device torch can train on here, fastest first (CUDA, then MPS, then CPU)."""
    import torch

    # torch.compile's C++ build step imports torch.utils.cpp_extension, which warns "No CUDA
    # runtime is found" on every CPU-only machine that has a CUDA toolkit folder. The device was
    # probed here and is named in the run's first line, so that warning only adds noise.
    logging.getLogger("torch.utils.cpp_extension").addFilter(_drop_no_cuda_runtime_warning)
    found: list[DeviceInfo] = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            found.append(DeviceInfo(f"cuda:{i}", f"{torch.cuda.get_device_name(i)} (cuda:{i})"))
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        found.append(DeviceInfo("mps", "Apple GPU (mps)"))
    cpu_name = platform.processor() or platform.machine() or "CPU"
    found.append(DeviceInfo("cpu", f"CPU: {cpu_name}, {plural(torch.get_num_threads(), 'thread')}"))
    return found


def resolve_device(requested: str) -> torch.device:  # noqa: F821 (torch imported lazily)
    """'auto' → the fastest device present; otherwise check that the requested one exists."""
    import torch

    if requested == "auto":
        return torch.device(available_devices()[0].key)
    keys = [d.key for d in available_devices()]
    wanted = "cuda:0" if requested == "cuda" else requested
    if wanted not in keys:
        raise ConfigError(f"Device '{requested}' is not available here. Available: "
                          f"{', '.join(keys)} (or 'auto').")
    return torch.device(wanted)


def device_label(device: torch.device) -> str:  # noqa: F821
    for info in available_devices():
        if info.key == str(device) or (info.key == "cuda:0" and str(device) == "cuda"):
            return info.label
    return str(device)
