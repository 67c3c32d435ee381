"""DigitClassifier against real onnxruntime sessions on small ONNX files built with onnx.helper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from core.data.mnist import MNIST_MEAN, MNIST_STD
from core.errors import ConfigError, ModelFileError
from core.onnx_io.classifier import DigitClassifier, Prediction

FLOAT = TensorProto.FLOAT


def gemm_model(
    path: Path,
    *,
    input_shape: tuple[int | str, ...] = ("N", 1, 28, 28),
    classes: int = 10,
    features: int = 784,
    tail: tuple[str, ...] = (),
    metadata: dict[str, str] | None = None,
    in_type: int = FLOAT,
    seed: int = 0,
    ir_version: int = 9,
    hidden: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Write x → [Cast] → [Flatten] → Gemm(W, b) → tail ops → y; return (W, b).

    W (features, classes) and b (classes,) are deterministic so a numpy reference can repeat
    the computation. `tail` ops ("Softmax", "Identity", "Half", "Double") apply in order after
    Gemm. hidden > 0 puts a Gemm(features → hidden) + Relu first (no numpy reference then).
    """
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.05, (hidden or features, classes)).astype(np.float32)
    b = rng.normal(0, 0.1, classes).astype(np.float32)
    inits = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "b")]
    nodes, cur = [], "x"
    if in_type != FLOAT:
        nodes.append(helper.make_node("Cast", [cur], ["xf"], to=FLOAT))
        cur = "xf"
    if len(input_shape) != 2:
        nodes.append(helper.make_node("Flatten", [cur], ["flat"], axis=1))
        cur = "flat"
    if hidden:
        w1 = rng.normal(0, 0.05, (features, hidden)).astype(np.float32)
        inits += [numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(w1[0], "b1")]
        nodes += [helper.make_node("Gemm", [cur, "W1", "b1"], ["h"]),
                  helper.make_node("Relu", ["h"], ["hr"])]
        cur = "hr"
    nodes.append(helper.make_node("Gemm", [cur, "W", "b"], ["logits"]))
    cur = "logits"
    for i, op in enumerate(tail):
        out = f"t{i}"
        if op == "Double":  # Mul by 2: not a pass-through op, hides a Softmax from graph checks
            nodes.append(helper.make_node("Add", [cur, cur], [out]))
        elif op == "Half":
            nodes.append(helper.make_node("Mul", [cur, "half"], [out]))
        else:
            attrs = {"axis": 1} if op == "Softmax" else {}
            nodes.append(helper.make_node(op, [cur], [out], **attrs))
        cur = out
    nodes.append(helper.make_node("Identity", [cur], ["y"]))
    if "Half" in tail:
        inits.append(numpy_helper.from_array(np.array(0.5, np.float32), "half"))
    graph = helper.make_graph(
        nodes,
        "digits",
        [helper.make_tensor_value_info("x", in_type, list(input_shape))],
        [helper.make_tensor_value_info("y", FLOAT, [input_shape[0], classes])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = ir_version
    if metadata:
        helper.set_model_props(model, metadata)
    onnx.save(model, str(path))
    return w, b


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def reference(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 28, 28) → (N, 10) logits, the Gemm model in numpy (float64)."""
    return x.reshape(len(x), -1).astype(np.float64) @ w + b


def assert_matches(clf: DigitClassifier, x: np.ndarray, w: np.ndarray, b: np.ndarray,
                   fed: np.ndarray | None = None) -> None:
    """clf on images x gives softmax(Gemm(fed)), fed being what the graph should receive."""
    expected = softmax(reference(x if fed is None else fed, w, b))
    np.testing.assert_allclose(clf.predict_proba(x), expected, atol=1e-5)


@pytest.fixture
def images() -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.random((7, 28, 28), dtype=np.float32)  # (7, 28, 28) in [0, 1]


def test_gemm_model_matches_numpy(tmp_path: Path, images: np.ndarray) -> None:
    w, b = gemm_model(tmp_path / "gemm.onnx")
    clf = DigitClassifier(tmp_path / "gemm.onnx")
    p = clf.predict_proba(images)
    assert p.shape == (7, 10) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    ref = softmax(reference(images, w, b))
    np.testing.assert_allclose(p, ref, atol=1e-5)
    assert (p.argmax(axis=1) == ref.argmax(axis=1)).all()
    assert clf.param_count == 784 * 10 + 10 and clf.under_budget
    assert clf.name == "gemm" and not clf.is_digitlab_export and clf.metadata == {}
    assert clf.output_kind == "logits" and clf.normalization == "none"


@pytest.mark.parametrize(
    "shape",
    [("N", 1, 28, 28), (1, 1, 28, 28), ("batch", 28, 28), (1, 28, 28), ("N", 784), (1, 784),
     (None, 1, "H", "W")],
    ids=str,
)
def test_every_accepted_layout(tmp_path: Path, images: np.ndarray, shape: tuple) -> None:
    w, b = gemm_model(tmp_path / "m.onnx", input_shape=shape)
    clf = DigitClassifier(tmp_path / "m.onnx")
    # A fixed batch of 1 is run image by image; the answers must be the same.
    assert_matches(clf, images, w, b)
    assert clf.predict_proba(images[0]).shape == (1, 10)
    assert clf.predict_proba(np.zeros((0, 28, 28), np.float32)).shape == (0, 10)


def test_dynamic_batch_that_only_works_for_one_image(tmp_path: Path, images: np.ndarray) -> None:
    """Declared (N, 784) but a Reshape to [1, 784] inside: fall back to one image per run."""
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.05, (784, 10)).astype(np.float32)
    shape = numpy_helper.from_array(np.array([1, 784], np.int64), "shape")
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["r"]),
         helper.make_node("MatMul", ["r", "W"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("y", FLOAT, ["N", 10])],
        [numpy_helper.from_array(w, "W"), shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, str(tmp_path / "one.onnx"))
    clf = DigitClassifier(tmp_path / "one.onnx")
    expected = softmax(images.reshape(7, 784).astype(np.float64) @ w)
    np.testing.assert_allclose(clf.predict_proba(images), expected, atol=1e-5)
    assert clf.describe()["batching"] == "one image per run"


def test_classify_and_top(tmp_path: Path, images: np.ndarray) -> None:
    gemm_model(tmp_path / "m.onnx")
    clf = DigitClassifier(tmp_path / "m.onnx")
    pred = clf.classify(images[0])
    assert isinstance(pred, Prediction)
    assert pred.digit == int(np.argmax(pred.probabilities))
    assert pred.confidence == pytest.approx(float(pred.probabilities.max()))
    top = pred.top(3)
    assert top[0][0] == pred.digit and len(top) == 3
    assert [p for _, p in top] == sorted((p for _, p in top), reverse=True)
    assert pred.top(0) == [] and len(pred.top(50)) == 10
    assert sorted(d for d, _ in pred.top(10)) == list(range(10))


def test_bad_image_shapes_are_refused(tmp_path: Path) -> None:
    gemm_model(tmp_path / "m.onnx")
    clf = DigitClassifier(tmp_path / "m.onnx")
    for bad in (np.zeros((28, 27)), np.zeros((2, 1, 28, 28)), np.zeros(784)):
        with pytest.raises(ValueError, match="28"):
            clf.predict_proba(bad)


def test_metadata_name_and_budget(tmp_path: Path) -> None:
    meta = {"digitlab.version": "0.1.0", "digitlab.model": "tiny_cnn", "digitlab.output": "logits",
            "digitlab.normalization": "in-graph"}
    gemm_model(tmp_path / "file.onnx", metadata=meta, hidden=16)
    clf = DigitClassifier(tmp_path / "file.onnx", normalization="auto")
    assert clf.name == "tiny_cnn" and clf.is_digitlab_export and clf.metadata == meta
    params = 784 * 16 + 16 + 16 * 10 + 10  # = 12,730: over the 8,000 budget
    assert clf.param_count == params and not clf.under_budget
    info = clf.describe()
    assert info["param_count"] == params and info["under_budget"] is False
    assert "(N, 1, 28, 28)" in info["input"] and info["metadata"] == meta


def test_mnist_normalization_from_metadata(tmp_path: Path, images: np.ndarray) -> None:
    w, b = gemm_model(tmp_path / "m.onnx", metadata={"digitlab.normalization": "mnist"})
    auto = DigitClassifier(tmp_path / "m.onnx")
    forced = DigitClassifier(tmp_path / "m.onnx", normalization="none")
    assert auto.normalization == "mnist" and forced.normalization == "none"
    normed = (images - MNIST_MEAN) / MNIST_STD
    assert_matches(auto, images, w, b, fed=normed)
    assert_matches(forced, images, w, b)
    assert not np.allclose(auto.predict_proba(images), forced.predict_proba(images), atol=1e-3)


def test_forced_mnist_normalization_on_foreign_file(tmp_path: Path, images: np.ndarray) -> None:
    w, b = gemm_model(tmp_path / "m.onnx")
    clf = DigitClassifier(tmp_path / "m.onnx", normalization="mnist")
    normed = (images - MNIST_MEAN) / MNIST_STD
    assert_matches(clf, images, w, b, fed=normed)


def test_unknown_normalization(tmp_path: Path) -> None:
    gemm_model(tmp_path / "m.onnx", metadata={"digitlab.normalization": "imagenet"})
    with pytest.raises(ModelFileError, match="imagenet"):
        DigitClassifier(tmp_path / "m.onnx")
    with pytest.raises(ConfigError, match="zscore"):
        DigitClassifier(tmp_path / "m.onnx", normalization="zscore")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tail", "metadata", "source"),
    [
        (("Softmax",), None, "graph ends in Softmax"),
        (("Softmax", "Identity"), None, "graph ends in Softmax"),
        (("Softmax", "Half", "Double"), None, "sum to 1"),  # hidden from the graph check
        (("Softmax", "Half", "Double"), {"digitlab.output": "probabilities"}, "file says so"),
    ],
)
def test_probabilities_are_not_softmaxed_again(
    tmp_path: Path, images: np.ndarray, tail: tuple, metadata: dict | None, source: str
) -> None:
    w, b = gemm_model(tmp_path / "p.onnx", tail=tail, metadata=metadata)
    clf = DigitClassifier(tmp_path / "p.onnx")
    assert clf.output_kind == "probabilities" and source in clf.describe()["output_kind"]
    p = clf.predict_proba(images)
    expected = softmax(reference(images, w, b))
    np.testing.assert_allclose(p, expected, atol=1e-5)
    assert not np.allclose(p, softmax(expected), atol=1e-3)  # what double softmax would give


def test_logits_metadata_wins(tmp_path: Path, images: np.ndarray) -> None:
    """A file that says "logits" is softmaxed even if its raw scores happen to look odd."""
    w, b = gemm_model(tmp_path / "m.onnx", metadata={"digitlab.output": "logits"})
    clf = DigitClassifier(tmp_path / "m.onnx")
    assert clf.output_kind == "logits"
    assert_matches(clf, images, w, b)


def test_session_tuned_for_single_images(tmp_path: Path) -> None:
    gemm_model(tmp_path / "m.onnx")
    clf = DigitClassifier(tmp_path / "m.onnx")
    opts = clf._session.get_session_options()
    assert opts.intra_op_num_threads == 1
    assert clf._session.get_providers() == ["CPUExecutionProvider"]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _broken(tmp_path: Path, kind: str) -> Path:
    """Write one kind of unusable file and return its path."""
    p = tmp_path / f"{kind}.onnx"
    if kind == "three_channels":
        gemm_model(p, input_shape=("N", 3, 28, 28), features=3 * 784)
    elif kind == "imagenet":  # pooled first, so the file stays small
        w = numpy_helper.from_array(np.ones((3, 1000), np.float32), "W")
        nodes = [helper.make_node("GlobalAveragePool", ["x"], ["g"]),
                 helper.make_node("Flatten", ["g"], ["f"]),
                 helper.make_node("MatMul", ["f", "W"], ["y"])]
        graph = helper.make_graph(
            nodes, "g", [helper.make_tensor_value_info("x", FLOAT, [1, 3, 224, 224])],
            [helper.make_tensor_value_info("y", FLOAT, [1, 1000])], [w])
        onnx.save(helper.make_model(graph), str(p))
    elif kind == "thousand_classes":
        gemm_model(p, classes=1000)
    elif kind == "fixed_batch_32":
        gemm_model(p, input_shape=(32, 1, 28, 28))
    elif kind == "int_input":
        gemm_model(p, in_type=TensorProto.INT64)
    elif kind == "rank5":
        gemm_model(p, input_shape=("N", 1, 1, 28, 28))
    elif kind == "channel_fails_at_run":  # channel dim symbolic, weights want 3 channels
        gemm_model(p, input_shape=("N", "C", 28, 28), features=3 * 784)
    elif kind == "ir_too_new":
        gemm_model(p, ir_version=99)
    elif kind in ("two_inputs", "two_outputs"):
        two_in = kind == "two_inputs"
        nodes = [helper.make_node("Add", ["a", "b" if two_in else "a"], ["y"])]
        names = "ab" if two_in else "a"
        inputs = [helper.make_tensor_value_info(n, FLOAT, ["N", 784]) for n in names]
        outs = [helper.make_tensor_value_info("y", FLOAT, ["N", 784])]
        if not two_in:
            nodes.append(helper.make_node("Identity", ["a"], ["z"]))
            outs.append(helper.make_tensor_value_info("z", FLOAT, ["N", 784]))
        model = helper.make_model(helper.make_graph(nodes, "g", inputs, outs),
                                  opset_imports=[helper.make_opsetid("", 17)])
        onnx.save(model, str(p))
    elif kind == "truncated":
        gemm_model(p)
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    elif kind == "empty":
        _write(p, b"")
    elif kind == "random_bytes":
        _write(p, np.random.default_rng(3).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    elif kind == "text":
        _write(p, b"hello, this is a README, not a model\n" * 20)
    elif kind == "missing":
        pass
    elif kind == "folder":
        p.mkdir()
    return p


BROKEN = {
    "three_channels": "input 'x' has shape (N, 3, 28, 28)",
    "imagenet": "input 'x' has shape (1, 3, 224, 224)",
    "thousand_classes": "1000 classes",
    "fixed_batch_32": "fixed batch of 32",
    "int_input": "input 'x' holds int64",
    "rank5": "input 'x' has shape (N, 1, 1, 28, 28)",
    "channel_fails_at_run": "fails on a 28×28 test image",
    "ir_too_new": "onnxruntime cannot load",
    "two_inputs": "2 inputs ('a', 'b')",
    "two_outputs": "2 outputs ('y', 'z')",
    "truncated": "truncated",
    "empty": "empty (0 bytes)",
    "random_bytes": "not",
    "text": "not",
    "missing": "no model file",
    "folder": "folder",
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_files_raise_model_file_error(tmp_path: Path, kind: str) -> None:
    path = _broken(tmp_path, kind)
    with pytest.raises(ModelFileError) as info:
        DigitClassifier(path)
    message = str(info.value)
    assert BROKEN[kind] in message
    # Every message says what is needed or what to do, not just what went wrong.
    assert any(w in message for w in ("needs", "Choose", "Check", "Export", "choose")), message
