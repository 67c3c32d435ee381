"""Make a run the bundled model: its ONNX export and a slim checkpoint for "Teach it my hand".

    python scripts/bundle_model.py RUN [--checkpoint last]

Writes `default.onnx` (through `digitlab-cli export`, verified against torch) and `default.pt`
into the resources' models folder. The checkpoint holds what fine-tuning needs and nothing a
user's machine should not carry: the config, the history, and the weights the run evaluated
(EMA or SWA when it had them, as `export` uses) as the model's own weights; no optimizer, no
random-number state. Then update resources/models/README.md with the figures it prints.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import torch

from core.fileio import write_atomic
from core.paths import resources_dir
from core.runs.store import RunStore
from core.training.checkpoints import answer_weights_kind


def slim_state(state: dict) -> dict:
    """The checkpoint with the evaluated weights as the model and nothing else to resume."""
    kind = answer_weights_kind(state)
    weights = state["model"] if kind == "model" else state[kind]["module"]
    # The training machine's MNIST folder means nothing elsewhere: fine-tuning finds MNIST itself.
    config = {**state["config"], "data_dir": ""}
    return {"format": state.get("format"), "config": config,
            "epochs_done": state["epochs_done"], "history": state["history"],
            "model": {k: v.detach().clone() for k, v in weights.items()},
            "ema": None, "swa": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="run id, id prefix or name")
    parser.add_argument("--checkpoint", choices=("best", "last"), default="last")
    args = parser.parse_args()

    run = RunStore().get(args.run)
    models = resources_dir() / "models"
    onnx_path = models / "default.onnx"
    subprocess.run([sys.executable, "-m", "core.cli", "export", run.id, "--checkpoint",
                    args.checkpoint, "-o", str(onnx_path)], check=True)
    state = slim_state(run.load_checkpoint(args.checkpoint))
    pt_path = models / "default.pt"
    write_atomic(pt_path, lambda f: torch.save(state, f))
    print(f"{onnx_path} and {pt_path} ({Path(pt_path).stat().st_size:,} bytes) from run "
          f"{run.id} ({args.checkpoint} checkpoint, epoch {state['epochs_done']})")


if __name__ == "__main__":
    main()
