"""Property tests: arbitrary small ONNX graphs (random ops, shapes, initializers, forged
dimensions, external-data entries, metadata) never get past validation with anything but a
ModelFileError, and a model that loads always gives finite probabilities or a ModelFileError."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from core.errors import ConfigError, ModelFileError
from core.onnx_io.classifier import DigitClassifier
from core.onnx_io.validate import check_graph

FLOAT = TensorProto.FLOAT
UNARY = ["Relu", "Sigmoid", "Tanh", "Identity", "Softmax", "Neg", "Abs", "Exp", "Log", "Sqrt"]
dims = st.one_of(st.integers(1, 12), st.sampled_from([0, -1, -(2**40), 2**31, 2**40, 784, 10]))
locations = st.sampled_from(["w.bin", "../w.bin", "/etc/passwd", "a/../../w.bin", "", "..",
                             "C:\\w.bin", "sub/w.bin", "\x00x"])


@st.composite
def graphs(draw: st.DrawFn) -> onnx.ModelProto:
    batch = draw(st.sampled_from(["N", "N", "N", 1, 2]))
    # Mostly plausible digit models (so many load and run), sometimes anything.
    in_shape = draw(st.sampled_from([[batch, 1, 28, 28]] * 3 + [
        [batch, 784], [batch, 28, 28], [batch, 3, 28, 28], [batch, draw(dims)]]))
    nodes = [helper.make_node("Flatten", ["x"], ["h0"])]
    inits = []
    width, cur = 784 if len(in_shape) > 2 or in_shape[-1] == 784 else None, "h0"
    for i in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["unary", "unary", "gemm", "constant_gemm", "forged"]))
        out = f"h{i + 1}"
        if kind == "unary":
            op = draw(st.sampled_from(UNARY))
            nodes.append(helper.make_node(op, [cur], [out], **({"axis": 1} if op == "Softmax"
                                                                else {})))
        elif kind in ("gemm", "constant_gemm") and width is not None:
            n_out = draw(st.sampled_from([10, 16, 3]))
            w = np.random.default_rng(i).normal(0, 0.1, (width, n_out)).astype(np.float32)
            tensor = numpy_helper.from_array(w, f"W{i}")
            if draw(st.integers(0, 3)) == 0:  # stored outside the file, somewhere
                tensor.ClearField("raw_data")
                tensor.data_location = TensorProto.EXTERNAL
                entry = tensor.external_data.add()
                entry.key, entry.value = "location", draw(locations)
            if kind == "gemm":
                inits.append(tensor)
            else:
                nodes.append(helper.make_node("Constant", [], [f"W{i}"], value=tensor))
            nodes.append(helper.make_node("MatMul", [cur, f"W{i}"], [out]))
            width = n_out
        else:
            inits.append(TensorProto(name=f"forged{i}", data_type=FLOAT,
                                     dims=draw(st.lists(dims, min_size=1, max_size=3))))
            nodes.append(helper.make_node("Identity", [cur], [out]))
        cur = out
    if width is not None and width != 10 and draw(st.integers(0, 5)) > 0:
        w = np.random.default_rng(99).normal(0, 0.1, (width, 10)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, "Wlast"))
        nodes.append(helper.make_node("MatMul", [cur, "Wlast"], ["last"]))
        cur = "last"
    for op in draw(st.lists(st.sampled_from(UNARY), max_size=2)):
        nodes.append(helper.make_node(op, [cur], [f"{cur}_{op}"],
                                      **({"axis": 1} if op == "Softmax" else {})))
        cur = f"{cur}_{op}"
    nodes.append(helper.make_node("Identity", [cur], ["y"]))
    out_shape = draw(st.sampled_from([[batch, 10]] * 3 + [[batch, draw(dims)], None]))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", FLOAT, in_shape)],
        [helper.make_tensor_value_info("y", FLOAT, out_shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    metadata = draw(st.dictionaries(
        st.sampled_from(["digitlab.params", "digitlab.model", "digitlab.output",
                         "digitlab.normalization", "other"]),
        st.one_of(st.sampled_from(["100", "-5", "1e9", "99999999999999999999", "logits",
                                   "probabilities", "mnist", "\x1b[31m", "NaN"]),
                  st.text(max_size=12)), max_size=3))
    helper.set_model_props(model, metadata)
    return model


@settings(max_examples=120, deadline=None)
@given(model=graphs())
def test_arbitrary_small_graphs(model: onnx.ModelProto) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.onnx"
        path.write_bytes(model.SerializeToString())
        (Path(folder) / "w.bin").write_bytes(b"\0" * 4096)
        try:
            count = check_graph(model, path)
            assert isinstance(count, int) and count >= 0
        except ModelFileError:
            pass
        try:
            clf = DigitClassifier(path, probe=False, run_seconds=5)
        except (ModelFileError, ConfigError) as e:
            assert str(e) and "Traceback" not in str(e)
            return
        assert clf.param_count >= clf.graph_values >= 0  # metadata never lowers the count
        images = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
        try:
            p = clf.predict_proba(images)
        except ModelFileError:
            return
        assert p.shape == (3, 10) and np.isfinite(p).all()
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-4)
