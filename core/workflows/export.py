"""Exporting a run: its checkpoint's answer weights (SWA, else EMA, when kept) to a verified ONNX
file (`core.onnx_io.export.export_model`), with metadata saying which run, which checkpoint and
who picked it (docs/CONTRACTS.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core import __version__
from core.onnx_io.export import ExportReport, export_model


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
