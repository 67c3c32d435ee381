"""Small hostile or broken ONNX files for the untrusted-model tests, built with onnx.helper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT = TensorProto.FLOAT
OPSET = [helper.make_opsetid("", 17)]


def save(graph: onnx.GraphProto, path: Path, metadata: dict[str, str] | None = None) -> Path:
    model = helper.make_model(graph, opset_imports=OPSET)
    model.ir_version = 9
    if metadata:
        helper.set_model_props(model, metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return path


def io(batch: int | str = "N") -> tuple[list, list]:
    return ([helper.make_tensor_value_info("x", FLOAT, [batch, 1, 28, 28])],
            [helper.make_tensor_value_info("y", FLOAT, [batch, 10])])


def weights(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.normal(0, 0.05, (784, 10)).astype(np.float32),
            rng.normal(0, 0.1, 10).astype(np.float32))


def const(name: str, array: np.ndarray) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(array, name))


def loop_model(path: Path, trips_from_centre: bool = False,
               pixel: tuple[int, int] = (14, 14)) -> Path:
    """Adds 1 to a (1, 10) tensor in a Loop of 10^12 iterations: hours of work.

    `trips_from_centre`: the trip count is (x[14, 14] - 0.6)+ × 10^12, so the blank and ramp
    test images (centre 0 and 0.52) run no iteration at all and only a real digit loops
    (`pixel`: another pixel than the centre, e.g. a corner no drawn sample digit inks)."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Add", ["v_in", "one"], ["v_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", FLOAT, [1, 10])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", FLOAT, [1, 10])],
        [numpy_helper.from_array(np.ones((1, 10), np.float32), "one")])
    nodes = [const("cond", np.array(True)), const("v0", np.zeros((1, 10), np.float32))]
    if trips_from_centre:
        row, col = pixel
        nodes += [const("starts", np.array([0, 0, row, col], np.int64)),
                  const("ends", np.array([1, 1, row + 1, col + 1], np.int64)),
                  const("shift", np.array(0.6, np.float32)),
                  const("scale", np.array(1e12, np.float32)),
                  helper.make_node("Slice", ["x", "starts", "ends"], ["c"]),
                  helper.make_node("Sub", ["c", "shift"], ["cs"]),
                  helper.make_node("Relu", ["cs"], ["cr"]),
                  helper.make_node("Mul", ["cr", "scale"], ["cm"]),
                  helper.make_node("Cast", ["cm"], ["cl"], to=TensorProto.INT64),
                  helper.make_node("ReduceMax", ["cl"], ["trips"], keepdims=0)]
    else:
        nodes.append(const("trips", np.array(10**12, np.int64)))
    nodes += [helper.make_node("Loop", ["trips", "cond", "v0"], ["vfinal"], body=body),
              helper.make_node("ReduceMean", ["x"], ["m"], keepdims=0),
              helper.make_node("Mul", ["vfinal", "m"], ["y"])]
    inputs, outputs = io(1)
    return save(helper.make_graph(nodes, "loop", inputs, outputs), path)


def memory_model(path: Path, values: int = 1_000_000_000) -> Path:
    """Allocates `values` floats (4 GB) at run time: a ConstantOfShape summed away."""
    nodes = [const("shape", np.array([values], np.int64)),
             helper.make_node("ConstantOfShape", ["shape"], ["big"],
                              value=numpy_helper.from_array(np.array([1.0], np.float32))),
             helper.make_node("ReduceSum", ["big"], ["s"], keepdims=1),
             helper.make_node("Flatten", ["x"], ["f"]),
             const("st", np.array([0], np.int64)), const("en", np.array([10], np.int64)),
             const("ax", np.array([1], np.int64)),
             helper.make_node("Slice", ["f", "st", "en", "ax"], ["ten"]),
             helper.make_node("Mul", ["ten", "s"], ["y"])]
    inputs, outputs = io(1)
    return save(helper.make_graph(nodes, "memory", inputs, outputs), path)


def nan_on_ink_model(path: Path) -> Path:
    """Logits + sqrt(-x[0, 0]): finite on the blank and ramp test images (x[0, 0] = 0),
    NaN as soon as the top-left pixel has ink."""
    w, b = weights()
    nodes = [helper.make_node("Flatten", ["x"], ["f"]),
             helper.make_node("Gemm", ["f", "W", "b"], ["logits"]),
             const("st", np.array([0], np.int64)), const("en", np.array([1], np.int64)),
             const("ax", np.array([1], np.int64)),
             helper.make_node("Slice", ["f", "st", "en", "ax"], ["corner"]),
             helper.make_node("Neg", ["corner"], ["neg"]),
             helper.make_node("Sqrt", ["neg"], ["root"]),
             helper.make_node("Add", ["logits", "root"], ["y"])]
    inputs, outputs = io()
    return save(helper.make_graph(nodes, "nan", inputs, outputs,
                                  [numpy_helper.from_array(w, "W"),
                                   numpy_helper.from_array(b, "b")]), path)


def gemm_model(path: Path, *, in_constant: bool = False, metadata: dict[str, str] | None = None,
               hidden: int = 0) -> Path:
    """x → Flatten → [Gemm(784→hidden) → Relu] → Gemm(→10) → y; weights as initializers or,
    with `in_constant`, in Constant nodes (where an initializer-only count misses them)."""
    rng = np.random.default_rng(1)
    w, b = weights()
    arrays = {"b": b}
    nodes = [helper.make_node("Flatten", ["x"], ["f"])]
    cur = "f"
    if hidden:
        arrays |= {"W1": rng.normal(0, 0.05, (784, hidden)).astype(np.float32),
                   "b1": np.zeros(hidden, np.float32)}
        nodes += [helper.make_node("Gemm", [cur, "W1", "b1"], ["h"]),
                  helper.make_node("Relu", ["h"], ["hr"])]
        cur, w = "hr", rng.normal(0, 0.05, (hidden, 10)).astype(np.float32)
    arrays["W"] = w
    nodes.append(helper.make_node("Gemm", [cur, "W", "b"], ["y"]))
    inits = []
    if in_constant:
        nodes = [const(k, v) for k, v in arrays.items()] + nodes
    else:
        inits = [numpy_helper.from_array(v, k) for k, v in arrays.items()]
    inputs, outputs = io()
    return save(helper.make_graph(nodes, "gemm", inputs, outputs, inits), path, metadata)


def external_model(path: Path, location: str, *, sparse: bool = False,
                   in_constant: bool = False) -> Path:
    """W (784, 10) stored outside the file at `location` (as an initializer, a sparse
    initializer's values, or a Constant node's tensor)."""
    w = numpy_helper.from_array(np.zeros(16 if sparse else 7840, np.float32).reshape(
        (16,) if sparse else (784, 10)), "W")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"),
                       ("length", str(w.dims[0] * (1 if sparse else 10) * 4))):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    nodes = [helper.make_node("Flatten", ["x"], ["f"]),
             helper.make_node("MatMul", ["f", "W"], ["y"])]
    inits, sparse_inits = [], []
    if sparse:
        indices = numpy_helper.from_array(np.arange(16, dtype=np.int64), "W_idx")
        sparse_inits = [helper.make_sparse_tensor(w, indices, [784, 10])]
    elif in_constant:
        nodes.insert(0, helper.make_node("Constant", [], ["W"], value=w))
    else:
        inits = [w]
    inputs, outputs = io()
    graph = helper.make_graph(nodes, "external", inputs, outputs, inits,
                              sparse_initializer=sparse_inits)
    return save(graph, path)


def forged_dims_model(path: Path, dims: list[int], where: str = "initializer") -> Path:
    """A Gemm model plus one tensor declaring `dims` (negative or overflowing): as an unused
    initializer with no data, or as the declared shape of the input."""
    w, b = weights()
    inits = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "b")]
    inputs, outputs = io()
    if where == "initializer":
        bogus = TensorProto(name="bogus", data_type=FLOAT, dims=dims)
        inits.append(bogus)
    else:
        inputs = [helper.make_tensor_value_info("x", FLOAT, dims)]
    nodes = [helper.make_node("Flatten", ["x"], ["f"]),
             helper.make_node("Gemm", ["f", "W", "b"], ["y"])]
    return save(helper.make_graph(nodes, "forged", inputs, outputs, inits), path)
