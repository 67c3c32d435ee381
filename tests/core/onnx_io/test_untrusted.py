"""An ONNX file is untrusted input: limits on time and memory (tried in a child process),
external data only beside the model, parameter counts from the graph, sane dimensions, and
NaN outputs reported as errors, never as a digit."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelFileError
from core.onnx_io.classifier import DigitClassifier, open_classifier
from core.onnx_io.probe import ProbeLimits
from tests.support import hostile_onnx as h

QUICK = ProbeLimits(seconds=3, memory_mb=512)


def test_a_model_that_loops_for_hours_is_refused_within_the_time_limit(tmp_path: Path) -> None:
    path = h.loop_model(tmp_path / "loop.onnx")
    t0 = time.monotonic()
    with pytest.raises(ModelFileError, match=r"more than 3 s .*refused"):
        DigitClassifier(path, limits=QUICK)
    assert time.monotonic() - t0 < 3 + 60  # the limit plus the child's start-up, not hours


def test_a_model_that_allocates_gigabytes_is_refused(tmp_path: Path) -> None:
    path = h.memory_model(tmp_path / "memory.onnx")  # 4 GB at run time
    with pytest.raises(ModelFileError, match="512 MB"):
        DigitClassifier(path, limits=QUICK)


def test_a_refused_model_is_refused_again_and_a_good_one_remembered(tmp_path: Path) -> None:
    good = h.gemm_model(tmp_path / "good.onnx")
    open_classifier(good)  # tried in a child once…
    t0 = time.monotonic()
    for _ in range(3):
        DigitClassifier(good)  # …then known: no child process, milliseconds
    assert time.monotonic() - t0 < 2
    bad = h.memory_model(tmp_path / "memory.onnx")
    for _ in range(2):
        with pytest.raises(ModelFileError):
            DigitClassifier(bad, limits=QUICK)


def test_a_model_that_loops_on_real_digits_is_refused_at_load(tmp_path: Path) -> None:
    """Passes the blank and ramp images (no iteration), loops on a digit with ink at its
    centre: the probe's drawn sample digits catch it before the model is used (issue 23.2)."""
    t0 = time.monotonic()
    with pytest.raises(ModelFileError, match="took more than"):
        DigitClassifier(h.loop_model(tmp_path / "sly.onnx", trips_from_centre=True),
                        limits=QUICK, run_seconds=1)
    assert time.monotonic() - t0 < 30


def test_a_run_that_loops_on_a_real_digit_is_stopped(tmp_path: Path) -> None:
    """Passes every probe image (none inks the pixel at (2, 2)), loops on a digit that does."""
    clf = DigitClassifier(h.loop_model(tmp_path / "sly.onnx", trips_from_centre=True,
                                       pixel=(2, 2)), limits=QUICK, run_seconds=1)
    digit = np.zeros((28, 28), np.float32)
    digit[2:18, 2:6] = 1.0
    t0 = time.monotonic()
    with pytest.raises(ModelFileError, match="was stopped"):
        clf.predict_proba(digit)
    assert time.monotonic() - t0 < 15


def test_nan_outputs_are_an_error_not_digit_zero(tmp_path: Path) -> None:
    clf = DigitClassifier(h.nan_on_ink_model(tmp_path / "nan.onnx"), limits=QUICK)
    assert np.isfinite(clf.predict_proba(np.zeros((28, 28), np.float32))).all()
    inked = np.zeros((28, 28), np.float32)
    inked[0, 0] = 1.0
    with pytest.raises(ModelFileError, match="NaN"):
        clf.classify(inked)


@pytest.mark.parametrize("where", ["dotdot", "absolute", "symlink", "sparse", "constant",
                                   "missing", "windows"])
def test_external_data_outside_the_models_folder_is_refused(tmp_path: Path, where: str) -> None:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\x01" * 40_000)
    folder = tmp_path / "model"
    folder.mkdir()
    location = {"dotdot": "../secret.bin", "absolute": str(secret), "symlink": "link.bin",
                "sparse": "../secret.bin", "constant": "sub/../../secret.bin",
                "missing": "nowhere.bin", "windows": "C:\\secret.bin"}[where]
    if where == "symlink":
        (folder / "link.bin").symlink_to(secret)
    path = h.external_model(folder / "m.onnx", location, sparse=where == "sparse",
                            in_constant=where == "constant")
    # probe=False: our own check refuses, whatever onnxruntime would do.
    with pytest.raises(ModelFileError) as info:
        DigitClassifier(path, probe=False)
    assert "Refused" in str(info.value) or "not beside the model" in str(info.value)


def test_external_data_beside_the_model_is_fine(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "w.bin").write_bytes(np.zeros((784, 10), np.float32).tobytes())
    clf = DigitClassifier(h.external_model(folder / "m.onnx", "w.bin"), limits=QUICK)
    assert clf.graph_values == 7840


def test_parameter_count_is_computed_from_the_graph(tmp_path: Path) -> None:
    liar = h.gemm_model(tmp_path / "liar.onnx", hidden=16, metadata={"digitlab.params": "100"})
    clf = DigitClassifier(liar, limits=QUICK)
    assert clf.param_count == 784 * 16 + 16 + 16 * 10 + 10 and not clf.under_budget
    assert "ignored" in clf.param_count_source
    hidden = DigitClassifier(h.gemm_model(tmp_path / "const.onnx", in_constant=True),
                             limits=QUICK)
    assert hidden.param_count == 7850  # weights in Constant nodes count too
    honest = DigitClassifier(h.gemm_model(tmp_path / "honest.onnx",
                                          metadata={"digitlab.params": "9000"}), limits=QUICK)
    assert honest.param_count == 9000  # metadata may raise the count (BN folded away)…
    assert honest.graph_values == 7850  # …while the graph's own count stays visible


@pytest.mark.parametrize(("dims", "where"), [
    ([2**40, 2**40], "initializer"), ([-1, 10], "initializer"), ([2**62, 4], "initializer"),
    ([-5, 1, 28, 28], "input"), (["N", 1, 28, 2**40], "input"),
])
def test_forged_dimensions_are_refused_not_counted_negative(tmp_path: Path, dims: list,
                                                            where: str) -> None:
    path = h.forged_dims_model(tmp_path / "forged.onnx", dims, where)
    with pytest.raises(ModelFileError, match=r"dimension|values|shape"):
        DigitClassifier(path, probe=False)


def test_huge_and_special_files_are_refused_before_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.onnx"
    if hasattr(os, "mkfifo"):
        os.mkfifo(fifo)
        with pytest.raises(ModelFileError, match="not a plain file"):
            DigitClassifier(fifo)
    big = tmp_path / "big.onnx"
    with open(big, "wb") as f:
        f.truncate(300 * 2**20)  # sparse file: 300 MB claimed, nothing written
    with pytest.raises(ModelFileError, match="MB"):
        DigitClassifier(big)
