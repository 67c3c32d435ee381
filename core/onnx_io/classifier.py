"""Load any ONNX digit model, check it really is one, and classify 28×28 images with it.

numpy + onnx + onnxruntime only. `onnx.load` (without external data) reads the declared shapes,
metadata and initializers; core/onnx_io/validate.py checks the graph (external data, sizes,
the parameter count); core/onnx_io/probe.py tries it in a child process under time and memory
limits; then one onnxruntime session (core/onnx_io/session.py), created once, runs the model,
and a test run on two probe images proves it works before the user relies on it. Anything
unusable raises `ModelFileError` saying what the file has and what a digit model needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx
from onnx import TensorProto

from core.errors import ConfigError, ModelFileError
from core.models.spec import PARAM_BUDGET, under_budget
from core.onnx_io.probe import ProbeLimits, probe_model
from core.onnx_io.session import (
    NEEDED_INPUT,
    NEEDED_OUTPUT,
    NUM_CLASSES,
    Feed,
    first_line,
    make_session,
    run_images,
    smoke_test,
)
from core.onnx_io.session import (
    run_seconds as default_run_seconds,
)
from core.onnx_io.validate import MAX_MODEL_BYTES, check_graph, uses_external_data
from core.text import printable

Normalization = Literal["auto", "none", "mnist"]
_FLOAT_TYPES = {TensorProto.FLOAT: np.float32, TensorProto.FLOAT16: np.float16,
                TensorProto.DOUBLE: np.float64}
# (layout, rank, the dims after the batch dim) for every input layout we can feed.
_LAYOUTS = (("NCHW", 4, (1, 28, 28)), ("NHW", 3, (28, 28)), ("NF", 2, (784,)))
# Ops that pass values through unchanged, looked through when asking "does a Softmax make this?".
_PASS_THROUGH = {"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Cast"}

Dim = int | str  # a fixed size, or a symbolic name ("?" when the file names none)
MAX_METADATA_BYTES = 256 * 1024  # a DigitLab export records ~3 KB (its config, accuracy, ...)
MAX_METADATA_ENTRIES = 1000
MAX_NAME_CHARS = 120  # the model's name as shown (labels, lists, status lines)


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

    The file is untrusted (core/onnx_io/validate.py, core/onnx_io/probe.py): its graph is
    checked statically (external data inside its folder, sane sizes), then it is tried in a
    child process with a time and memory limit before this process creates its own session
    (`probe=False` skips that, for the child itself and for the model shipped with DigitLab);
    every later run stops after `run_seconds` and on Ctrl+C.

    `graph_values` counts every value stored in the graph: initializers (dense and sparse, at
    their dense size), Constant nodes and other tensor attributes, subgraphs included; so also
    BatchNorm statistics and shape constants when a file stores them. `param_count` is the
    larger of that and the trained count a DigitLab export records (`digitlab.params`:
    exporters fold BatchNorm into the convs, so the graph may hold fewer values). Metadata can
    raise the count, never lower it below what the graph holds.

    Construct it in a background thread (the GUI: `open_classifier` in a job), never on a GUI
    thread: trying a model takes a second or more.
    """

    def __init__(self, path: str | Path, normalization: Normalization = "auto", *,
                 probe: bool = True, limits: ProbeLimits | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 run_seconds: float | None = None) -> None:
        if normalization not in ("auto", "none", "mnist"):
            raise ConfigError(
                f"normalization {normalization!r} is unknown; use 'auto', 'none' or 'mnist'"
            )
        self.path = Path(path)
        model = _load_proto(self.path)
        graph = model.graph
        self.metadata: dict[str, str] = {p.key: p.value for p in model.metadata_props}
        self.is_digitlab_export = "digitlab.version" in self.metadata
        # Shown on labels and in lists: short, one line, whatever the file says.
        self.name = printable(self.metadata.get("digitlab.model") or self.path.stem,
                              MAX_NAME_CHARS)
        self.run_seconds = run_seconds or default_run_seconds()
        try:
            self.graph_values = check_graph(model, self.path)
        except ModelFileError as e:
            raise ModelFileError(f"{self._file}: {e}") from None
        recorded = self.metadata.get("digitlab.params", "")
        recorded_count = int(recorded) if re.fullmatch(r"[0-9]{1,15}", recorded) else None
        if recorded_count is not None and recorded_count > self.graph_values:
            self.param_count = recorded_count
            self.param_count_source = (f"trained parameters, recorded at export (the graph "
                                       f"holds {self.graph_values:,} values)")
        else:
            self.param_count = self.graph_values
            self.param_count_source = "values stored in the graph (initializers and constants)"
            if recorded and recorded_count != self.graph_values:
                self.param_count_source += f"; the file claims {recorded[:20]!r}, ignored"
        self.under_budget = under_budget(self.param_count)

        try:
            self._check_interface(graph)
        except ModelFileError as e:  # name the file: the CLI may check several at once
            raise ModelFileError(f"{self._file}: {e}") from None
        self.normalization, self.normalization_source = self._resolve_normalization(normalization)

        self._feed = Feed(label=self._file, input_name=self.input_name,
                          input_shape=_fmt_shape(self.input_shape),
                          dtype=np.dtype(self._in_dtype).name, layout=self.layout,
                          batch_fixed=self._batch_fixed, normalization=self.normalization,
                          output_name=self.output_name)
        if probe and not _is_bundled(self.path):
            # Refused there: never run here. External data may change beside the file: no cache.
            probe_model(self.path, self._feed, limits, should_stop,
                        cache=not uses_external_data(model))
        self._session = make_session(self.path, self._file)
        raw = smoke_test(self._session, self._feed, self.run_seconds)  # (12, 10): 2 + 10 digits
        self._batch_fixed = self._feed.batch_fixed
        self.output_kind, self.output_kind_source = self._resolve_output_kind(graph, raw)

    # ---------------------------------------------------------------- inference

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) or (28, 28) float in [0, 1], white ink on black → (N, 10) float32."""
        x = np.asarray(images, dtype=np.float32)
        if x.shape == (28, 28):
            x = x[None]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"images must be (28, 28) or (N, 28, 28); got shape {x.shape}")
        raw = run_images(self._session, self._feed, x, self.run_seconds)  # (N, 10) float64
        if not np.all(np.isfinite(raw)):
            raise ModelFileError(f"{self._file} gives NaN or infinite scores for this image: no "
                                 f"digit can be read from them.")
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
    if not path.is_file():
        raise ModelFileError(f"{name} is not a plain file (a device or pipe); choose an .onnx "
                             f"model file.")
    size = path.stat().st_size
    if size == 0:
        raise ModelFileError(f"{name} is empty (0 bytes), not an ONNX model. Export it again.")
    if size > MAX_MODEL_BYTES:
        raise ModelFileError(f"{name} is {size / 2**20:,.0f} MB; DigitLab opens models up to "
                             f"{MAX_MODEL_BYTES // 2**20} MB (a digit model is kilobytes). "
                             f"Choose another file.")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:
        raise ModelFileError(
            f"{name} is not a readable ONNX model ({first_line(e)}); it may be truncated or "
            "another kind of file. Choose an .onnx file exported by DigitLab or another tool."
        ) from e
    # Metadata is shown and copied by the GUI: megabytes of it froze the window for seconds.
    metadata_bytes = sum(len(p.key) + len(p.value) for p in model.metadata_props)
    if metadata_bytes > MAX_METADATA_BYTES or len(model.metadata_props) > MAX_METADATA_ENTRIES:
        raise ModelFileError(
            f"{name} carries {metadata_bytes:,} characters of metadata in "
            f"{len(model.metadata_props):,} entries; a digit model's is a few kilobytes "
            f"(DigitLab opens up to {MAX_METADATA_BYTES:,} in {MAX_METADATA_ENTRIES} entries). "
            f"Refused."
        )
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


def _fmt_shape(shape: tuple[Dim, ...]) -> str:
    if not shape:
        return "(shape not declared)"
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _is_bundled(path: Path) -> bool:
    """The model shipped inside DigitLab's own folder is part of the program, not a foreign file."""
    from core.paths import bundled_model_path

    try:
        return path.resolve() == bundled_model_path().resolve()
    except OSError:
        return False


def open_classifier(path: str | Path, normalization: Normalization = "auto",
                    should_stop: Callable[[], bool] | None = None) -> DigitClassifier:
    """Validate, try (child process, limits) and load a model: the call for a background job.

    Raises ModelFileError saying why a file cannot be used (also when `should_stop()` turns
    true while it is being tried). Never call it on a GUI thread: it takes a second or more.
    """
    return DigitClassifier(path, normalization, should_stop=should_stop)
