"""Static checks of an untrusted ONNX graph, before onnxruntime sees it. onnx protobuf only.

- External data: every tensor whose bytes live in another file must name a plain relative path
  that stays inside the model's folder (after resolving links), a regular file with one link,
  read within its size. onnxruntime versions our dependency range allowed read any path (an
  `/etc/passwd` tensor); this check does not depend on the installed version.
- Sizes: no negative dimension, no tensor of absurd size (overflowing products are computed
  exactly with Python integers, never with int64 arithmetic that wraps negative).
- The parameter count: every value stored in the graph — initializers (dense and sparse, at
  their dense size), Constant nodes, tensor attributes of any node, in subgraphs too. Metadata
  may claim anything; it never lowers this count.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath

import onnx
from onnx import AttributeProto, TensorProto

from core.errors import ModelFileError

MAX_MODEL_BYTES = 256 * 2**20  # a digit model is kilobytes; a 1M-parameter CNN is 4 MB
MAX_TENSOR_ELEMENTS = 2**28  # 268M values (1 GiB of float32) in one tensor: not a digit model
MAX_DIM = 2**31 - 1  # onnxruntime's own bound for a dimension
MAX_SUBGRAPH_DEPTH = 16
MAX_NODES = 200_000


def _subgraphs(node: onnx.NodeProto) -> Iterator[onnx.GraphProto]:
    for attr in node.attribute:
        if attr.type == AttributeProto.GRAPH:
            yield attr.g
        elif attr.type == AttributeProto.GRAPHS:
            yield from attr.graphs


def graphs(model: onnx.ModelProto) -> Iterator[onnx.GraphProto]:
    """The main graph and every subgraph (Loop, If, Scan bodies), depth-first."""
    stack = [(model.graph, 0)]
    count = 0
    while stack:
        graph, depth = stack.pop()
        if depth > MAX_SUBGRAPH_DEPTH:
            raise ModelFileError(f"its subgraphs nest more than {MAX_SUBGRAPH_DEPTH} deep; a "
                                 f"digit model has none.")
        count += len(graph.node)
        if count > MAX_NODES:
            raise ModelFileError(f"it has more than {MAX_NODES:,} nodes; a digit model has a "
                                 f"few dozen.")
        yield graph
        stack.extend((sub, depth + 1) for node in graph.node for sub in _subgraphs(node))


def tensors(model: onnx.ModelProto) -> Iterator[tuple[str, TensorProto, tuple[int, ...]]]:
    """(what, tensor, dense dims) for every stored tensor: sparse ones give their values and
    indices tensors, with the sparse tensor's dense shape as dims for the values."""
    for graph in graphs(model):
        for t in graph.initializer:
            yield f"initializer '{t.name}'", t, tuple(t.dims)
        for sp in graph.sparse_initializer:
            yield f"sparse initializer '{sp.values.name}'", sp.values, tuple(sp.dims)
            yield f"sparse initializer '{sp.values.name}' indices", sp.indices, tuple(
                sp.indices.dims)
        for node in graph.node:
            where = f"{node.op_type} node '{node.name or (node.output[0] if node.output else '')}'"
            for attr in node.attribute:
                if attr.type == AttributeProto.TENSOR:
                    yield where, attr.t, tuple(attr.t.dims)
                elif attr.type == AttributeProto.TENSORS:
                    for t in attr.tensors:
                        yield where, t, tuple(t.dims)
                elif attr.type == AttributeProto.SPARSE_TENSOR:
                    sp = attr.sparse_tensor
                    yield where, sp.values, tuple(sp.dims)
                    yield where + " indices", sp.indices, tuple(sp.indices.dims)
                elif attr.type == AttributeProto.SPARSE_TENSORS:
                    for sp in attr.sparse_tensors:
                        yield where, sp.values, tuple(sp.dims)
                        yield where + " indices", sp.indices, tuple(sp.indices.dims)


def elements(dims: tuple[int, ...], what: str) -> int:
    """Exact element count of `dims`; ModelFileError for negative or absurd sizes."""
    if any(d < 0 for d in dims):
        raise ModelFileError(f"{what} has a negative dimension {list(dims)}; the file is damaged "
                             f"or forged.")
    if any(d > MAX_DIM for d in dims):
        raise ModelFileError(f"{what} has a dimension over {MAX_DIM:,}; the file is damaged or "
                             f"forged.")
    n = math.prod(dims)  # Python integers: no wrap-around
    if n > MAX_TENSOR_ELEMENTS:
        raise ModelFileError(f"{what} holds {n:,} values, more than the {MAX_TENSOR_ELEMENTS:,} "
                             f"a model DigitLab opens may hold in one tensor.")
    return n


def count_values(model: onnx.ModelProto) -> int:
    """Every numeric value stored in the graph: the model's parameter count, from the graph."""
    total = 0
    for what, _t, dims in tensors(model):
        if what.endswith("indices"):
            continue  # where sparse values sit, not values
        total += elements(dims, what)
    for graph in graphs(model):
        for node in graph.node:
            for attr in node.attribute:  # Constant's list forms: value_floats, value_ints, …
                if node.op_type == "Constant" and attr.type in (AttributeProto.FLOAT,
                                                                AttributeProto.INT):
                    total += 1
                elif node.op_type == "Constant" and attr.type in (AttributeProto.FLOATS,
                                                                  AttributeProto.INTS):
                    total += len(attr.floats) + len(attr.ints)
    return total


def check_value_dims(model: onnx.ModelProto) -> None:
    """Declared shapes of inputs, outputs and intermediate values: no negative or huge dims."""
    for graph in graphs(model):
        for value in (*graph.input, *graph.output, *graph.value_info):
            if not value.type.HasField("tensor_type") or not value.type.tensor_type.HasField(
                    "shape"):
                continue
            dims = [d.dim_value for d in value.type.tensor_type.shape.dim
                    if d.HasField("dim_value")]
            if any(d < 0 or d > MAX_DIM for d in dims):
                raise ModelFileError(f"value '{value.name}' declares an impossible dimension "
                                     f"({next(d for d in dims if d < 0 or d > MAX_DIM)}); the "
                                     f"file is damaged or forged.")


def _external_location(t: TensorProto, what: str) -> tuple[str, int, int | None] | None:
    """(location, offset, length) of a tensor stored outside the file, or None."""
    entries = list(t.external_data)
    if t.data_location != TensorProto.EXTERNAL and not entries:
        return None
    info: dict[str, str] = {}
    for entry in entries:
        if entry.key in info:
            raise ModelFileError(f"{what} names its external '{entry.key}' twice.")
        info[entry.key] = entry.value
    location = info.get("location", "")
    try:
        offset = int(info.get("offset", "0"))
        length = int(info["length"]) if "length" in info else None
    except ValueError:
        raise ModelFileError(f"{what} has a non-numeric external data offset or length.") from None
    if offset < 0 or (length is not None and length < 0):
        raise ModelFileError(f"{what} has a negative external data offset or length.")
    return location, offset, length


def check_external_data(model: onnx.ModelProto, model_path: Path) -> None:
    """Refuse any tensor whose external data lies outside the model's folder."""
    folder = Path(os.path.abspath(model_path)).parent.resolve()
    for what, t, _ in tensors(model):
        found = _external_location(t, what)
        if found is None:
            continue
        location, offset, length = found
        escapes = (not location or "\x00" in location or location.startswith(("/", "\\", "~"))
                   or PureWindowsPath(location).drive or PureWindowsPath(location).root
                   or ".." in PurePosixPath(location.replace("\\", "/")).parts)
        if escapes:
            raise ModelFileError(f"{what} reads its data from '{location[:200]}', outside the "
                                 f"model's folder; DigitLab only reads data files beside the "
                                 f"model. Refused.")
        target = (folder / location).resolve()
        if not target.is_relative_to(folder):
            raise ModelFileError(f"{what} reads its data through a link that leads outside the "
                                 f"model's folder ('{location[:200]}'). Refused.")
        try:
            info = target.stat()
        except OSError:
            raise ModelFileError(f"{what} keeps its data in '{location[:200]}', which is not "
                                 f"beside the model. Copy that file next to it.") from None
        if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
            raise ModelFileError(f"{what} reads its data from '{location[:200]}', which is not a "
                                 f"plain file of its own (a device, folder or hard link). "
                                 f"Refused.")
        if offset + (length or 0) > info.st_size:
            raise ModelFileError(f"{what} reads past the end of its data file "
                                 f"'{location[:200]}'; the model is damaged.")


def uses_external_data(model: onnx.ModelProto) -> bool:
    return any(_external_location(t, what) is not None for what, t, _ in tensors(model))


def check_graph(model: onnx.ModelProto, model_path: Path) -> int:
    """All static checks; returns the parameter count computed from the graph."""
    check_external_data(model, model_path)
    check_value_dims(model)
    return count_values(model)
