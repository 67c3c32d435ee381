"""Scoring a trained run on My digits (core/data/my_digits.py): its checkpoint, read with torch,
on the user's saved digits; the result is recorded in the run."""

from __future__ import annotations

from core.data.my_digits import DigitScore, MyDigits, score_predictions
from core.runs.store import Run


def score_run(run: Run, store: MyDigits | None = None, checkpoint: str | None = None,
              *, record: bool = True) -> DigitScore:
    """Score a trained run's checkpoint on My digits with torch; record it in the run.

    Imports torch here (the Draw tab never calls this). The model sees what training fed it:
    (N, 1, 28, 28) pixels normalised with the MNIST mean and std. With `record`, the result goes
    to `run.record.scores["my_digits"]` = {"accuracy", "n", "when", "per_class", "checkpoint",
    "fingerprint"} and the record is saved; an empty set records nothing (accuracy is nan).
    Raises ModelFileError when the checkpoint is missing or unreadable.
    """
    import torch

    from core.data.mnist import normalize
    from core.runs.best import resolve_checkpoint
    from core.training.checkpoints import model_from_state

    store = store if store is not None else MyDigits()
    images, labels, skipped = store.load()  # files left out are named in score.skipped
    if labels.size == 0:
        return score_predictions(labels, labels, skipped)
    checkpoint = resolve_checkpoint(run.record, checkpoint)  # None: never one test picked
    model = model_from_state(run.load_checkpoint(checkpoint)).cpu()
    x = normalize(torch.from_numpy(images)[:, None])  # (N, 1, 28, 28)
    with torch.inference_mode():
        predictions = torch.cat([model(batch).argmax(dim=1) for batch in x.split(1024)])
    score = score_predictions(predictions.numpy(), labels, skipped)
    if record:
        entry = score.to_record()
        entry.update(checkpoint=checkpoint, fingerprint=store.fingerprint())
        run.record.scores["my_digits"] = entry
        run.save_record()
    return score
