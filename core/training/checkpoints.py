"""Checkpoints: everything a run needs to continue exactly, loadable without unpickling code.

A checkpoint is a dict of tensors and plain Python values only, so `torch.load(weights_only=True)`
reads it; the config travels inside, which makes a checkpoint enough to rebuild its model.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from core.errors import ModelFileError
from core.fileio import check_regular_file, write_bytes_atomic
from core.training.config import TrainConfig
from core.training.metrics import EpochMetrics

MAX_CHECKPOINT_BYTES = 1 << 30  # 1 GiB: far above any zoo model's checkpoint (kilobytes)

FORMAT_VERSION = 1


def capture_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                  scheduler: Any, ema: Any, config: TrainConfig, epochs_done: int,
                  history: list[EpochMetrics], swa: Any = None) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "config": config.to_dict(),
        "epochs_done": epochs_done,
        "history": [m.to_dict() for m in history],
        "model": model.state_dict(),
        "ema": ema.state_dict() if ema is not None else None,
        # SWA average (core/training/swa.py), BatchNorm statistics already recomputed.
        "swa": swa.state_dict() if swa is not None else None,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        # Epochs reseed from (seed, epoch); the global state is kept for completeness.
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_state(state: dict[str, Any], model: torch.nn.Module,
                  optimizer: torch.optim.Optimizer, scheduler: Any,
                  ema: Any, swa: Any = None) -> tuple[int, list[EpochMetrics]]:
    """Load a captured state into freshly built objects; returns (epochs_done, history)."""
    problem = resume_problem(state)
    if problem:
        raise ModelFileError(f"The checkpoint cannot be resumed from: {problem}. Use the other "
                             f"checkpoint or train again.")
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if ema is not None and state.get("ema") is not None:
            ema.load_state_dict(state["ema"])
        if swa is not None and state.get("swa") is not None:
            swa.load_state_dict(state["swa"])
        torch.set_rng_state(state["rng_cpu"])
        if state.get("rng_cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng_cuda"])
    except (KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError) as e:
        # A checkpoint from elsewhere (or damaged) whose pieces do not fit this run's objects.
        raise ModelFileError(f"The checkpoint cannot be resumed from ({type(e).__name__}: "
                             f"{_first_line(e)}). Use the other checkpoint or train again.") from e
    return int(state["epochs_done"]), [EpochMetrics.from_dict(m) for m in state["history"]]


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def load_checkpoint(path: Path, map_location: Any = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"Checkpoint {path} does not exist: the run saved no epoch yet.")
    try:  # kind and size first: torch.load would read a FIFO or a device for ever
        check_regular_file(path, MAX_CHECKPOINT_BYTES, follow_links=True)
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many kinds for damaged files
        raise ModelFileError(f"Checkpoint {path.name} cannot be read ({type(e).__name__}: "
                             f"{_first_line(e)}). It may be damaged; use the "
                             f"other checkpoint of the run or train again.") from e
    problem = state_problem(state)
    if problem:
        raise ModelFileError(f"{path.name} is not a usable DigitLab checkpoint: {problem}. Use "
                             f"the other checkpoint of the run or train again.")
    return state


def _first_line(e: BaseException) -> str:
    """The first line of an exception's text (some have none: a 0-byte file's EOFError)."""
    lines = str(e).strip().splitlines()
    return lines[0][:200] if lines else type(e).__name__


def _weights_problem(weights: Any) -> str | None:
    if not isinstance(weights, dict) or not weights:
        return "holds no weights"
    bad = next((k for k, v in weights.items()
                if not isinstance(k, str) or not isinstance(v, torch.Tensor)), None)
    return None if bad is None else f"weight {str(bad)[:40]!r} is not a tensor"


def state_problem(state: Any) -> str | None:
    """What makes a loaded checkpoint unusable (a field of the wrong type), or None.

    Files are untrusted: weights_only=True stops code, this stops a list where the config
    belongs, text where the epoch count belongs, and so on, before anything relies on them.
    """
    from core.training.config import field_type_problem
    from core.training.metrics import history_problem

    if not isinstance(state, dict):
        return "it does not hold a dictionary"
    config = state.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("model"), str):
        return "its config is missing or names no model"
    setting = next((p for k, v in config.items() if (p := field_type_problem(str(k), v))), None)
    if setting:
        return f"its config says {setting}"
    weights = _weights_problem(state.get("model"))
    if weights:
        return f"its model {weights}"
    ema = state.get("ema")
    if ema is not None and (not isinstance(ema, dict) or _weights_problem(ema.get("module"))):
        return "its averaged (EMA) weights are damaged"
    swa = state.get("swa")
    if swa is not None and (not isinstance(swa, dict) or _weights_problem(swa.get("module"))
                            or not isinstance(swa.get("averaged"), int)):
        return "its averaged (SWA) weights are damaged"
    epochs = state.get("epochs_done")
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 0:
        return "its epoch count is not a whole number"
    history = history_problem(state.get("history"))
    if history:
        return f"its history {history}"
    return None


def resume_problem(state: dict[str, Any]) -> str | None:
    """What a checkpoint with usable weights lacks to be resumed from, or None. Reading,
    exporting and fine-tuning need only the weights (the bundled model's checkpoint has
    nothing more); continuing the run needs the optimizer, schedule and random state too."""
    for key in ("optimizer", "scheduler"):
        if not isinstance(state.get(key), dict):
            return f"its {key} state is missing"
    if not isinstance(state.get("rng_cpu"), torch.Tensor):
        return "its random-generator state is missing"
    return None


def answer_weights_kind(state: dict[str, Any]) -> str:
    """Which weights of a checkpoint are its answer: "swa" once the SWA average holds an epoch
    (it takes precedence, core/training/swa.py), else "ema" when kept, else "model"."""
    swa = state.get("swa")
    if isinstance(swa, dict) and swa.get("averaged", 0) > 0:
        return "swa"
    return "ema" if state.get("ema") is not None else "model"


def model_from_state(state: dict[str, Any], prefer_average: bool = True) -> torch.nn.Module:
    """Rebuild the model a checkpoint describes, in eval mode, with the weights the run
    evaluated (`answer_weights_kind`: SWA, else EMA) unless `prefer_average` is False."""
    from core.models import build_model

    config = TrainConfig.from_dict(state["config"])
    model = build_model(config.model)
    kind = answer_weights_kind(state) if prefer_average else "model"
    weights = state["model"] if kind == "model" else state[kind]["module"]
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise ModelFileError(f"The checkpoint's weights do not fit model '{config.model}' as it "
                             f"is defined now: {str(e).splitlines()[0]}") from e
    return model.eval()
