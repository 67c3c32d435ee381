"""Probing devices silences torch's "No CUDA runtime is found" warning, and only that one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

# Importing torch.utils.cpp_extension (torch.compile's C++ build does) warns when a CUDA_HOME
# exists and CUDA does not work; CUDA_HOME points at an existing folder to make that happen.
SCRIPT = """
import logging, sys
import torch
if sys.argv[1] == "probe":
    from core.training.devices import available_devices
    available_devices()
import torch.utils.cpp_extension
logging.getLogger("torch.utils.cpp_extension").warning("another warning stays")
"""


def _stderr(mode: str) -> str:
    env = {**os.environ, "CUDA_HOME": str(REPO), "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([sys.executable, "-c", SCRIPT, mode], cwd=REPO, env=env, text=True,
                          capture_output=True, check=True, timeout=300).stderr


def test_the_no_cuda_runtime_warning_is_gone_after_probing_devices() -> None:
    without_probe = _stderr("plain")
    if "No CUDA runtime is found" not in without_probe:
        pytest.skip("this torch build does not warn about a missing CUDA runtime")
    probed = _stderr("probe")
    assert "No CUDA runtime is found" not in probed
    assert "another warning stays" in probed
