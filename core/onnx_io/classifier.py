"""Load any ONNX digit model, check it really is one, and classify 28×28 images with it.

numpy + onnx + onnxruntime only. `onnx.load` (without external data) reads the declared shapes,
metadata and initializers; one onnxruntime session, created once, runs the model; a test run on
two probe images at load time proves it works before the user relies on it. Anything unusable
raises `ModelFileError` saying what the file has and what a digit model needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto

from core.data.mnist import MNIST_MEAN, MNIST_STD
from core.errors import ConfigError, ModelFileError
from core.models.spec import PARAM_BUDGET  # under budget: fewer parameters than this

NUM_CLASSES = 10
NEEDED_INPUT = (
    "one float image input shaped (N, 1, 28, 28), (N, 28, 28) or (N, 784), N dynamic or 1"
)
NEEDED_OUTPUT = "one float output with 10 class scores per image, e.g. (N, 10)"

Normalization = Literal["auto", "none", "mnist"]
_FLOAT_TYPES = {TensorProto.FLOAT: np.float32, TensorProto.FLOAT16: np.float16,
                TensorProto.DOUBLE: np.float64}
# (layout, rank, the dims after the batch dim) for every input layout we can feed.
_LAYOUTS = (("NCHW", 4, (1, 28, 28)), ("NHW", 3, (28, 28)), ("NF", 2, (784,)))
# Ops that pass values through unchanged, looked through when asking "does a Softmax make this?".
_PASS_THROUGH = {"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Cast"}

Dim = int | str  # a fixed size, or a symbolic name ("?" when the file names none)


@dataclass(frozen=True)
class Prediction:
    digit: int
    confidence: float
    probabilities: np.ndarray = field(repr=False, compare=False)  # (10,) float32, sums to 1

    def top(self, k: int = 3) -> list[tuple[int, float]]:
        """The k most probable digits as (digit, probability), most probable first."""
        order = np.argsort(-self.probabilities, kind="stable")[: max(0, k)]
        return [(int(d), float(self.probabilities[d])) for d in order]


class DigitClassifier:
    """A validated ONNX digit model with one CPU inference session tuned for one image at a time.

    `graph_values` is the plain number of elements in all graph initializers (dense and sparse
    values): weights and biases, but also BatchNorm statistics and shape constants when a file
    stores them there. Weights hidden in Constant nodes are not counted. `param_count` is the
    trained parameter count a DigitLab export records (`digitlab.params`; exporters fold
    BatchNorm into the convs, so the graph holds fewer values), else `graph_values`.
    """

    def __init__(self, path: str | Path, normalization: Normalization = "auto") -> None:
        if normalization not in ("auto", "none", "mnist"):
            raise ConfigError(
                f"normalization {normalization!r} is unknown; use 'auto', 'none' or 'mnist'"
            )
        self.path = Path(path)
        model = _load_proto(self.path)
        graph = model.graph
        self.metadata: dict[str, str] = {p.key: p.value for p in model.metadata_props}
        self.is_digitlab_export = "digitlab.version" in self.metadata
        self.name = self.metadata.get("digitlab.model") or self.path.stem
        self.graph_values = sum(int(np.prod(t.dims)) for t in graph.initializer) + sum(
            int(np.prod(t.values.dims)) for t in graph.sparse_initializer
        )
        recorded = self.metadata.get("digitlab.params", "")
        self.param_count = int(recorded) if recorded.isdigit() else self.graph_values
        self.param_count_source = (
            "trained parameters, recorded at export" if recorded.isdigit()
            else "elements of the graph's initializers"
        )
        self.under_budget = self.param_count < PARAM_BUDGET

        try:
            self._check_interface(graph)
        except ModelFileError as e:  # name the file: the CLI may check several at once
            raise ModelFileError(f"{self._file}: {e}") from None
        self.normalization, self.normalization_source = self._resolve_normalization(normalization)

        self._session = self._make_session()
        raw = self._smoke_test(_probe_images())  # (2, 10) raw outputs of two probe images
        self.output_kind, self.output_kind_source = self._resolve_output_kind(graph, raw)

    # ---------------------------------------------------------------- inference

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) or (28, 28) float in [0, 1], white ink on black → (N, 10) float32."""
        x = np.asarray(images, dtype=np.float32)
        if x.shape == (28, 28):
            x = x[None]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"images must be (28, 28) or (N, 28, 28); got shape {x.shape}")
        raw = self._run(x)  # (N, 10) float64
        if self.output_kind == "probabilities":
            p = np.clip(raw, 0.0, None)
            sums = p.sum(axis=1, keepdims=True)
            p = np.where(sums > 0, p / np.where(sums > 0, sums, 1.0), 1.0 / NUM_CLASSES)
        else:
            z = np.exp(raw - raw.max(axis=1, keepdims=True))  # stable softmax
            p = z / z.sum(axis=1, keepdims=True)
        return p.astype(np.float32)

    def classify(self, image28: np.ndarray) -> Prediction:
        """One (28, 28) image → the most probable digit with its probability and all ten."""
        p = self.predict_proba(image28)[0]
        digit = int(np.argmax(p))
        return Prediction(digit=digit, confidence=float(p[digit]), probabilities=p)

    def describe(self) -> dict[str, Any]:
        """What the file holds and how it will be used, for `digitlab-cli check` and the GUI."""
        return {
            "name": self.name,
            "path": str(self.path),
            "input": f"'{self.input_name}' {_fmt_shape(self.input_shape)} "
            f"{np.dtype(self._in_dtype).name}",
            "layout": self.layout,
            "batching": "one image per run" if self._batch_fixed else "whole batch per run",
            "output": f"'{self.output_name}' {_fmt_shape(self.output_shape)}",
            "output_kind": f"{self.output_kind} ({self.output_kind_source})",
            "normalization": f"{self.normalization} ({self.normalization_source})",
            "param_count": self.param_count,
            "param_count_source": self.param_count_source,
            "graph_values": self.graph_values,
            "budget": PARAM_BUDGET,
            "under_budget": self.under_budget,
            "is_digitlab_export": self.is_digitlab_export,
            "metadata": dict(self.metadata),
        }

    def __repr__(self) -> str:
        return f"DigitClassifier({str(self.path)!r}, name={self.name!r}, params={self.param_count})"

    # ---------------------------------------------------------------- internals

    @property
    def _file(self) -> str:
        return f"'{self.path.name}'"

    def _check_interface(self, graph: onnx.GraphProto) -> None:
        """One float image input in a layout we can feed, one output of 10 scores."""
        init_names = {t.name for t in graph.initializer}
        # Before IR 4, initializers were also listed as graph inputs: they are not fed.
        inputs = [i for i in graph.input if i.name not in init_names]
        if len(inputs) != 1:
            listed = ", ".join(f"'{i.name}'" for i in inputs) or "none"
            raise ModelFileError(
                f"it has {len(inputs)} inputs ({listed}); a digit model needs {NEEDED_INPUT}."
            )
        self.input_name, self._in_dtype, self.input_shape = _tensor_info(inputs[0], "input")
        self.layout, self._batch_fixed = _match_layout(self.input_name, self.input_shape)
        if len(graph.output) != 1:
            listed = ", ".join(f"'{o.name}'" for o in graph.output) or "none"
            raise ModelFileError(
                f"it has {len(graph.output)} outputs ({listed}); "
                f"a digit model needs {NEEDED_OUTPUT}."
            )
        self.output_name, _, self.output_shape = _tensor_info(graph.output[0], "output")
        _check_output_shape(self.output_name, self.output_shape)

    def _resolve_normalization(self, requested: str) -> tuple[str, str]:
        if requested != "auto":
            return requested, "forced by caller"
        value = self.metadata.get("digitlab.normalization")
        if value is None:
            return "none", "no digitlab.normalization in file"
        if value in ("in-graph", "none"):
            return "none", f"file says {value}"
        if value == "mnist":
            return "mnist", "file says mnist"
        raise ModelFileError(
            f"{self._file} sets digitlab.normalization = {value!r}; "
            "known values are 'in-graph', 'none' and 'mnist'."
        )

    def _make_session(self) -> ort.InferenceSession:
        opts = ort.SessionOptions()
        # One 28×28 image is microseconds of work: thread hand-offs would cost more than they save.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 4  # fatal only: errors come back to us as exceptions anyway
        try:
            # From the path, not bytes, so external-data files beside it are found.
            return ort.InferenceSession(
                str(self.path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as e:
            raise ModelFileError(
                f"onnxruntime cannot load {self._file}: {_first_line(e)}. The file may be damaged "
                "or use operators or versions this onnxruntime lacks; export it again or choose "
                "another file."
            ) from e

    def _run(self, x: np.ndarray) -> np.ndarray:
        """(N, 28, 28) float32 in [0, 1] → (N, 10) float64 raw model outputs."""
        n = x.shape[0]
        if n == 0:
            return np.zeros((0, NUM_CLASSES))
        if self.normalization == "mnist":
            x = (x - np.float32(MNIST_MEAN)) / np.float32(MNIST_STD)
        feed = {"NCHW": x[:, None], "NHW": x, "NF": x.reshape(n, 784)}[self.layout]
        feed = np.ascontiguousarray(feed, dtype=self._in_dtype)
        if self._batch_fixed:  # the graph takes exactly one image per run
            run = self._session.run
            outs = [np.asarray(run(None, {self.input_name: feed[i : i + 1]})[0]) for i in range(n)]
            out = np.concatenate([o.reshape(1, -1) for o in outs])
        else:
            out = np.asarray(self._session.run(None, {self.input_name: feed})[0]).reshape(n, -1)
        return out.astype(np.float64)

    def _smoke_test(self, probes: np.ndarray) -> np.ndarray:
        """Run the (2, 28, 28) probes; fall back to one image per run if batches fail."""
        try:
            raw = self._run(probes)
        except Exception as first:
            if self._batch_fixed:
                raise self._failed_run(first) from first
            self._batch_fixed = True  # a dynamic batch dim that only really works with N = 1
            try:
                raw = self._run(probes)
            except Exception as e:
                raise self._failed_run(e) from e
        if raw.shape[1] != NUM_CLASSES:
            raise ModelFileError(
                f"output '{self.output_name}' gives {raw.shape[1]} values per image when run; "
                f"a digit model needs {NEEDED_OUTPUT}."
            )
        if not np.all(np.isfinite(raw)):
            raise ModelFileError(
                f"{self._file} outputs NaN or infinity on a test image; its weights are broken. "
                "Export it again or choose another file."
            )
        return raw

    def _failed_run(self, e: Exception) -> ModelFileError:
        return ModelFileError(
            f"{self._file} fails on a 28×28 test image with input '{self.input_name}' "
            f"{_fmt_shape(self.input_shape)}: {_first_line(e)}. A digit model needs {NEEDED_INPUT}."
        )

    def _resolve_output_kind(self, graph: onnx.GraphProto, raw: np.ndarray) -> tuple[str, str]:
        """"logits" (softmax them) or "probabilities" (use as they are), and why.

        Order: the file's digitlab.output; else a Softmax producing the output (looking through
        reshapes and casts); else the probe outputs: all ≥ 0 and every row summing to 1 (±1e-4)
        on two different images. Logits pass that by chance essentially never, and deciding once
        at load keeps the behaviour the same for every image.
        """
        declared = self.metadata.get("digitlab.output")
        if declared in ("logits", "probabilities"):
            return declared, "file says so"
        if declared is not None:
            raise ModelFileError(
                f"{self._file} sets digitlab.output = {declared!r}; "
                "known values are 'logits' and 'probabilities'."
            )
        producers = {out: node for node in graph.node for out in node.output}
        name = self.output_name
        while name in producers and producers[name].op_type in _PASS_THROUGH:
            name = producers[name].input[0]
        if name in producers and producers[name].op_type == "Softmax":
            return "probabilities", "graph ends in Softmax"
        if np.all(raw >= -1e-6) and np.allclose(raw.sum(axis=1), 1.0, atol=1e-4):
            return "probabilities", "outputs are non-negative and sum to 1"
        return "logits", "assumed: outputs are not probabilities"


def _load_proto(path: Path) -> onnx.ModelProto:
    name = f"'{path.name}'"
    if not path.exists():
        raise ModelFileError(f"There is no model file at '{path}'. Check the path.")
    if path.is_dir():
        raise ModelFileError(f"'{path}' is a folder; choose an .onnx model file.")
    if path.stat().st_size == 0:
        raise ModelFileError(f"{name} is empty (0 bytes), not an ONNX model. Export it again.")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:
        raise ModelFileError(
            f"{name} is not a readable ONNX model ({_first_line(e)}); it may be truncated or "
            "another kind of file. Choose an .onnx file exported by DigitLab or another tool."
        ) from e
    # Protobuf happily parses many non-ONNX byte strings into an empty message.
    if not model.graph.input or not model.graph.output or not model.graph.node:
        raise ModelFileError(
            f"{name} holds no ONNX graph (no inputs, outputs or nodes); it is not an ONNX model "
            "or it is truncated. Choose an .onnx file exported by DigitLab or another tool."
        )
    return model


def _tensor_info(value: onnx.ValueInfoProto, role: str) -> tuple[str, Any, tuple[Dim, ...]]:
    """(name, numpy float dtype, shape) of a graph input/output; ModelFileError if unusable."""
    needed = NEEDED_INPUT if role == "input" else NEEDED_OUTPUT
    if not value.type.HasField("tensor_type"):
        raise ModelFileError(
            f"{role} '{value.name}' is not a tensor; a digit model needs {needed}."
        )
    tt = value.type.tensor_type
    if tt.elem_type not in _FLOAT_TYPES:
        type_name = TensorProto.DataType.Name(tt.elem_type).lower()
        raise ModelFileError(
            f"{role} '{value.name}' holds {type_name} values; a digit model needs {needed}."
        )
    if not tt.HasField("shape"):
        if role == "output":
            return value.name, _FLOAT_TYPES[tt.elem_type], ()  # checked by the test run
        raise ModelFileError(
            f"input '{value.name}' declares no shape; a digit model needs {NEEDED_INPUT}."
        )
    dims = tuple(
        d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim
    )
    return value.name, _FLOAT_TYPES[tt.elem_type], dims


def _match_layout(name: str, shape: tuple[Dim, ...]) -> tuple[str, bool]:
    """Which layout the input shape is, and whether its batch dim is fixed at 1."""

    def fits(dim: Dim, want: int) -> bool:
        return isinstance(dim, str) or dim == want

    for layout, rank, rest in _LAYOUTS:
        if len(shape) == rank and all(fits(d, w) for d, w in zip(shape[1:], rest, strict=True)):
            batch = shape[0]
            if batch == 1 or isinstance(batch, str):
                return layout, batch == 1
            raise ModelFileError(
                f"input '{name}' has shape {_fmt_shape(shape)}, a fixed batch of {batch}; "
                f"a digit model needs {NEEDED_INPUT}."
            )
    raise ModelFileError(
        f"input '{name}' has shape {_fmt_shape(shape)}; a digit model needs {NEEDED_INPUT}."
    )


def _check_output_shape(name: str, shape: tuple[Dim, ...]) -> None:
    if not shape:
        return  # unknown: the test run at load time checks what actually comes out
    last = shape[-1]
    wrong_classes = isinstance(last, int) and last != NUM_CLASSES
    if wrong_classes or any(isinstance(d, int) and d != 1 for d in shape[1:-1]):
        classes = f": {last} classes" if wrong_classes else ""
        raise ModelFileError(
            f"output '{name}' has shape {_fmt_shape(shape)}{classes}; "
            f"a digit model needs {NEEDED_OUTPUT}."
        )


def _probe_images() -> np.ndarray:
    """(2, 28, 28) float32: a blank image and a diagonal ramp, deterministic and different."""
    ramp = np.add.outer(np.arange(28), np.arange(28)).astype(np.float32) / 54.0
    return np.stack([np.zeros((28, 28), np.float32), ramp])


def _fmt_shape(shape: tuple[Dim, ...]) -> str:
    if not shape:
        return "(shape not declared)"
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _first_line(e: BaseException) -> str:
    """The useful part of an exception's text, without onnxruntime's C++ source locations."""
    text = str(e).strip() or type(e).__name__
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    text = re.sub(r"Load model from .*? failed:", "", text)
    text = re.sub(r"/onnxruntime_src/\S+:\d+ .*?\) (?=\S)", "", text)  # file:line signature
    return text.strip().splitlines()[0][:300].rstrip(".")
