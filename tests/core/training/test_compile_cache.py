"""torch.compile's cache lives under DigitLab's cache folder unless the user chose one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.training.speed import use_persistent_compile_cache


def test_compile_cache_goes_under_the_user_data_dir(digitlab_home: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    use_persistent_compile_cache()
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(digitlab_home / "cache" / "torchinductor")


def test_a_cache_folder_the_user_chose_wins(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    use_persistent_compile_cache()
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "mine")
