"""ONNX export: a run's checkpoint to one self-contained `.onnx` file, verified before it is kept.

Contract of our files (docs/CONTRACTS.md): input `image` float32 (N, 1, 28, 28), pixels in [0, 1],
white ink on black; normalisation happens inside the graph; output `logits` (N, 10). The file is
written only after `onnx.checker` passes and onnxruntime agrees with torch within 1e-4.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from core import __version__
from core.data.mnist import MNIST_MEAN, MNIST_STD
from core.errors import ModelFileError
from core.fileio import write_bytes_atomic

PARITY_TOLERANCE = 1e-4
OPSET = 18


class WithNormalization(nn.Module):
    """[0, 1] pixels in, logits out: the MNIST normalisation becomes part of the graph."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.model((image - MNIST_MEAN) / MNIST_STD)


@dataclass(frozen=True)
class ExportReport:
    path: Path
    params: int
    max_abs_diff: dict[int, float]  # batch size → largest |torch − onnxruntime| over the logits
    size_bytes: int


def _to_onnx_bytes(model: nn.Module) -> bytes:
    example = torch.rand(2, 1, 28, 28)
    batch = torch.export.Dim("batch", min=1, max=65536)
    # The exporter narrates its progress on stdout and warns about things that do not concern a
    # user; the verification below is what decides whether the export is good.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        program = torch.onnx.export(model, (example,), input_names=["image"],
                                    output_names=["logits"], dynamic_shapes={"image": {0: batch}},
                                    dynamo=True, opset_version=OPSET, verbose=False)
    return program.model_proto.SerializeToString()


def _add_metadata(onnx_bytes: bytes, metadata: dict[str, str]) -> bytes:
    import onnx

    proto = onnx.load_from_string(onnx_bytes)
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name, proto.producer_version = "DigitLab", __version__
    onnx.checker.check_model(proto, full_check=True)
    return proto.SerializeToString()


def check_parity(model: nn.Module, onnx_bytes: bytes,
                 batches: tuple[int, ...] = (1, 64)) -> dict[int, float]:
    """Largest logit difference between torch and onnxruntime per batch size; raises past 1e-4."""
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(0)
    diffs = {}
    for n in batches:
        x = torch.rand(n, 1, 28, 28, generator=generator)
        with torch.inference_mode():
            expected = model(x).numpy()
        got = session.run(["logits"], {"image": x.numpy()})[0]
        diffs[n] = float(np.abs(expected - got).max())
        if got.shape != (n, 10) or not diffs[n] <= PARITY_TOLERANCE:
            raise ModelFileError(f"Export check failed: onnxruntime differs from torch by "
                                 f"{diffs[n]:.2e} at batch {n} (tolerance {PARITY_TOLERANCE}). "
                                 f"The file was not written.")
    return diffs


def export_model(model: nn.Module, path: Path, metadata: dict[str, str]) -> ExportReport:
    """Export a (normalised-input) zoo model to `path` with `metadata`; verified, atomic."""
    wrapped = WithNormalization(model.cpu().eval()).eval()
    onnx_bytes = _add_metadata(_to_onnx_bytes(wrapped), metadata)
    diffs = check_parity(wrapped, onnx_bytes)
    write_bytes_atomic(Path(path), onnx_bytes)
    params = sum(p.numel() for p in model.parameters())
    return ExportReport(Path(path), params, diffs, len(onnx_bytes))


def run_metadata(state: dict[str, Any], params: int, dataset: str = "MNIST") -> dict[str, str]:
    history = state.get("history") or []
    test_acc = history[-1]["test_acc"] if history else float("nan")
    return {
        "digitlab.version": __version__,
        "digitlab.model": str(state["config"]["model"]),
        "digitlab.params": str(params),
        "digitlab.test_accuracy": f"{test_acc:.2f}",
        "digitlab.epochs": str(state.get("epochs_done", 0)),
        "digitlab.config": json.dumps(state["config"], sort_keys=True),
        "digitlab.dataset": dataset,
        "digitlab.created": datetime.now(UTC).isoformat(timespec="seconds"),
        "digitlab.input": "image (N,1,28,28) float32 in [0,1], white ink on black",
        "digitlab.normalization": "in-graph",
        "digitlab.output": "logits",
    }


def export_run(run: Any, path: Path, checkpoint: str | None = None) -> ExportReport:
    """Export a run's checkpoint with the weights it evaluated (SWA, else EMA, when kept) and,
    when the run used test-time rotations and `tta_in_onnx`, those rotations in the graph.

    `checkpoint` None takes the run's default: best when picked on validation, else last
    (core/runs/best.py); the file's metadata says which, and who picked it.
    """
    from core.runs.best import checkpoint_label, resolve_checkpoint
    from core.training.checkpoints import answer_weights_kind, model_from_state
    from core.training.tta import describe_tta, with_tta

    checkpoint = resolve_checkpoint(run.record, checkpoint)
    state = run.load_checkpoint(checkpoint)
    model = model_from_state(state)
    params = sum(p.numel() for p in model.parameters())
    metadata = run_metadata(state, params)
    metadata["digitlab.run"] = run.id
    metadata["digitlab.checkpoint"] = checkpoint
    metadata["digitlab.checkpoint_label"] = checkpoint_label(run.record, checkpoint)
    metadata["digitlab.weights"] = answer_weights_kind(state)  # swa | ema | model
    degrees = float(state["config"].get("tta_degrees") or 0.0)
    if degrees > 0 and state["config"].get("tta_in_onnx", True):
        model = with_tta(model, state["config"])  # parity below checks the rotations too
        metadata["digitlab.tta"] = describe_tta(degrees)
    else:
        metadata["digitlab.tta"] = "none" + (
            f" (the run's accuracy was measured with {describe_tta(degrees)}; this graph "
            f"reads each digit once)" if degrees > 0 else "")
    return export_model(model, path, metadata)


def draw_export_path(run_dir_name: str) -> Path:
    """Where "export, then open in Draw" writes a run: the exports folder (which the Draw tab
    lists and watches), named after the run's folder (its identity; never a field of a file)."""
    from core.paths import exports_dir

    return exports_dir() / f"{Path(run_dir_name).name}.onnx"


def export_run_for_draw(run_id: str, store: Any = None) -> Path:
    """The one "export, then open in Draw" path of the Train and Compare tabs (and of anyone
    else): export `run_id`'s default checkpoint (best when picked on validation, else last)
    to `draw_export_path` and return the file. Call
    it in a background job; the caller's tab emits the path and the main window opens it in Draw.
    """
    from core.runs.store import RunStore

    run = (store if store is not None else RunStore()).get(run_id)
    return export_run(run, draw_export_path(run.dir.name)).path
