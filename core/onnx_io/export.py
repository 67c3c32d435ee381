"""ONNX export: a torch model to one self-contained `.onnx` file, verified before it is kept.

It knows models, not runs: exporting a run's checkpoint (which weights, which metadata) is
`core.workflows.export`.

Contract of our files (docs/CONTRACTS.md): input `image` float32 (N, 1, 28, 28), pixels in [0, 1],
white ink on black; normalisation happens inside the graph; output `logits` (N, 10). The file is
written only after `onnx.checker` passes and onnxruntime agrees with torch within 1e-4.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core import __version__
from core.data.mnist import normalize
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
        return self.model(normalize(image))


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
