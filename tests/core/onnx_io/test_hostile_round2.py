"""Untrusted ONNX models, round two (issue 23.2): metadata is bounded when the model loads (60 MB
of it froze the window), names are short single lines, and the probe runs real drawn digits
too: a model finite on the blank and ramp probe images but NaN on every digit is refused."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from core.errors import ModelFileError
from core.onnx_io.classifier import MAX_NAME_CHARS, DigitClassifier
from core.onnx_io.session import digit_samples, probe_images
from tests.core.cli.test_cli import cli


def digit_model(path: Path, *, nan_on_digits: bool = False,
                metadata: dict[str, str] | None = None) -> Path:
    """Flatten + Gemm; with `nan_on_digits`, every score also gets 0 * sqrt((s - 30)(s - 300))
    where s is the image's total ink: 0 for a blank image, 392 for the ramp (both finite),
    80-200 for a drawn digit (the square root of a negative number: NaN)."""
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Flatten", ["x"], ["flat"], axis=1),
             helper.make_node("Gemm", ["flat", "W", "b"], ["logits" if nan_on_digits else "y"])]
    inits = [numpy_helper.from_array(rng.normal(0, 0.05, (784, 10)).astype(np.float32), "W"),
             numpy_helper.from_array(np.zeros(10, np.float32), "b")]
    if nan_on_digits:
        nodes += [helper.make_node("ReduceSum", ["flat", "axes"], ["ink"], keepdims=1),
                  helper.make_node("Sub", ["ink", "low"], ["above"]),
                  helper.make_node("Sub", ["ink", "high"], ["below"]),
                  helper.make_node("Mul", ["above", "below"], ["band"]),
                  helper.make_node("Sqrt", ["band"], ["root"]),
                  helper.make_node("Mul", ["root", "zero"], ["nothing"]),
                  helper.make_node("Add", ["logits", "nothing"], ["y"])]
        inits += [numpy_helper.from_array(np.array([1], np.int64), "axes"),
                  numpy_helper.from_array(np.array(30, np.float32), "low"),
                  numpy_helper.from_array(np.array(300, np.float32), "high"),
                  numpy_helper.from_array(np.array(0, np.float32), "zero")]
    graph = helper.make_graph(
        nodes, "digits", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path


def test_digit_samples_are_ten_mnist_format_digits() -> None:
    samples = digit_samples()
    assert samples.shape == (10, 28, 28) and samples.dtype == np.float32
    ink = samples.sum(axis=(1, 2))
    assert np.all((ink > 40) & (ink < 250)) and samples.max() <= 1.0


def test_a_model_nan_only_on_digits_is_refused(tmp_path: Path) -> None:
    path = digit_model(tmp_path / "sly.onnx", nan_on_digits=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    on_probes = session.run(None, {"x": probe_images()[:, None]})[0]
    on_digits = session.run(None, {"x": digit_samples()[:, None]})[0]
    assert np.all(np.isfinite(on_probes)) and np.all(np.isnan(on_digits))  # the premise
    with pytest.raises(ModelFileError, match="NaN or infinity on a drawn 0"):
        DigitClassifier(path)
    out = cli("check", str(path), check=False)
    assert out.returncode == 2 and "NaN or infinity on a drawn 0" in out.stderr
    assert "Traceback" not in out.stderr
    DigitClassifier(digit_model(tmp_path / "honest.onnx"))  # the same net without the trap


def test_megabytes_of_metadata_are_refused_at_once(tmp_path: Path) -> None:
    path = digit_model(tmp_path / "fat.onnx", metadata={"digitlab.model": "m" * 8 * 2**20})
    start = time.monotonic()
    with pytest.raises(ModelFileError, match="8,388,622 characters of metadata"):
        DigitClassifier(path)
    assert time.monotonic() - start < 10
    many = digit_model(tmp_path / "many.onnx", metadata={f"k{i}": "" for i in range(5000)})
    with pytest.raises(ModelFileError, match="5,000 entries"):
        DigitClassifier(many)


def test_a_long_or_multiline_name_is_shown_short_and_on_one_line(tmp_path: Path) -> None:
    name = "evil\nname\x1b[31m" + "x" * 100_000
    clf = DigitClassifier(digit_model(tmp_path / "long.onnx", metadata={"digitlab.model": name}),
                          probe=False)
    assert len(clf.name) <= MAX_NAME_CHARS and clf.name.startswith("evil")
    assert "\n" not in clf.name and "\x1b" not in clf.name
