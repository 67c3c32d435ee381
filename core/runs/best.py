"""Which checkpoint of a run to use, and how its "best" epoch was picked. Never by the test set.

A run keeps two checkpoints: `last` (the final epoch) and `best`. With a validation split held
out, `best` is the epoch with the highest validation accuracy: a fair choice, and the default
everywhere (eval, export, Results, Draw). Without one, `best` can only have been picked by test
accuracy, which makes its test figure optimistic (the test set chose it); then `last` is the
default, and `best` is offered only with the words "picked on test".

The run records its choice in `run.json` (`best`: epoch, split, accuracy), written by the run
store each epoch through `best_after`; older runs are read from their history.
"""

from __future__ import annotations

from typing import Any

PICKED_ON_VALIDATION = "validation"
PICKED_ON_TEST = "test"
CHECKPOINT_HELP = ("best = the epoch with the best validation accuracy; a run without a "
                   "validation split could only pick it on the test set (optimistic), so there "
                   "last is the default (default: best when picked on validation, else last)")


def _score(metrics: dict[str, Any]) -> tuple[float, str]:
    val = metrics.get("val_acc")
    if val is not None:
        return float(val), PICKED_ON_VALIDATION
    return float(metrics.get("test_acc", float("-inf"))), PICKED_ON_TEST


def best_after(history: list[dict[str, Any]], new: dict[str, Any]) -> dict[str, Any] | None:
    """The run's `best` record if epoch `new` (EpochMetrics dict) becomes its best, else None.

    `history` holds the epochs before it. Ties go to the later epoch (more training, same score).
    """
    score, split = _score(new)
    earlier = [_score(m)[0] for m in history if m["epoch"] < new["epoch"]]
    if earlier and score < max(earlier):
        return None
    return {"epoch": int(new["epoch"]), "picked_on": split, "accuracy": score}


def picked_on(record: Any) -> str:
    """"validation" or "test": the split that picked the run's best checkpoint ("" if none yet)."""
    best = getattr(record, "best", None) or {}
    if best.get("picked_on") in (PICKED_ON_VALIDATION, PICKED_ON_TEST):
        return str(best["picked_on"])
    history = getattr(record, "history", None) or []
    if not history:
        return ""
    return PICKED_ON_VALIDATION if history[-1].get("val_acc") is not None else PICKED_ON_TEST


def resolve_checkpoint(record: Any, which: str | None) -> str:
    """`which` as asked, or the run's default when None (or ""): "best" when validation picked
    it, else "last" (the test set never chooses by default). The one place the default is
    decided: eval, export, the Results view, Try in Draw, scoring and fine-tuning all ask here."""
    if which:
        return which
    return "best" if picked_on(record) == PICKED_ON_VALIDATION else "last"


def best_epoch(record: Any) -> int | None:
    best = getattr(record, "best", None) or {}
    if isinstance(best.get("epoch"), int):
        return int(best["epoch"])
    history = getattr(record, "history", None) or []
    if not history:
        return None
    return max(reversed(history), key=lambda m: _score(m)[0])["epoch"]


def checkpoint_label(record: Any, which: str) -> str:
    """How to name checkpoint `which` of the run to a reader: what it is and who chose it."""
    if which == "last":
        done = getattr(record, "epochs_done", 0)
        return f"last checkpoint (epoch {done})" if done else "last checkpoint"
    epoch = best_epoch(record)
    at = f"epoch {epoch}, " if epoch else ""
    if picked_on(record) == PICKED_ON_VALIDATION:
        return f"best checkpoint ({at}picked on validation)"
    return f"best checkpoint ({at}picked on test: its test figure is optimistic)"
