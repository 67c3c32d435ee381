"""Teach it your hand: labelled folders, the hold-back split, the base chosen for a model file,
and fine-tuning itself (replaying MNIST, exported to ONNX, stoppable)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.my_digits import MyDigits, labelled_pngs
from core.data.pen_digits import Writer
from core.data.pen_proxy import pen_digit_set
from core.errors import ConfigError
from core.onnx_io.classifier import DigitClassifier
from core.paths import bundled_model_path
from core.training.finetune import (
    MIN_PER_DIGIT,
    FinetuneSettings,
    FinetuneStopped,
    check_enough,
    split_holdout,
)
from core.workflows.finetune import BUNDLED, base_for, bundled_checkpoint_path, finetune


def hand(per_digit: int, seed: int = 7, allographs: tuple[str, ...] | None = None
         ) -> tuple[np.ndarray, np.ndarray]:
    """`per_digit` drawings of each digit by one synthetic writer (the Draw tab's stroke path)."""
    styles = allographs or ("oval", "flag-base", "curly", "flat-top", "closed", "one-stroke",
                            "straight", "footed", "two-loops", "open-top")
    writer = Writer(styles, slant=12.0, aspect=0.9, pen=14.0, size=0.6, jitter=0.03,
                    tremor=1.0, sample_gap=4.0)
    data = pen_digit_set(seed, per_digit=per_digit, paths=("strokes",), writers=[writer])
    return data.images["strokes"], data.labels


class Recorder:
    """A stand-in for the GUI's JobState: keeps progress, can ask to stop after some reports."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.messages: list[str] = []
        self.stop_after = stop_after

    def set_progress(self, value: object) -> None:
        self.messages.append(str(value))

    def is_interruption_requested(self) -> bool:
        return self.stop_after is not None and len(self.messages) >= self.stop_after


def test_labelled_folders_and_file_names(tmp_path: Path) -> None:
    """Subfolders 0-9 (My digits' layout) and leading digits label; the rest is skipped."""
    store = MyDigits(tmp_path / "set")
    images, labels = hand(1)
    for image, label in zip(images, labels, strict=True):
        store.add(image, int(label), drawing=np.zeros((280, 280), np.uint8))
    loose = tmp_path / "set" / "extra"
    loose.mkdir()
    big = np.zeros((200, 200), np.uint8)
    big[40:160, 95:105] = 255  # a drawn 1, canvas-sized: preprocessed like a drawing
    Image.fromarray(big).save(loose / "1_stick.png")
    Image.fromarray(255 - (images[3] * 255).astype(np.uint8)).save(loose / "3-inverted.png")
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(loose / "5_blank.png")
    Image.fromarray(big).save(loose / "nolabel.png")
    (loose / "7_broken.png").write_bytes(b"not a png")
    Image.fromarray(big).save(loose / "20261201T1200.png")  # a time stamp is no label
    (tmp_path / "set" / ".hidden.png").write_bytes(b"")
    found, found_labels, skipped = labelled_pngs(tmp_path / "set")
    assert sorted(found_labels.tolist()) == sorted([*range(10), 1, 3])
    assert found.shape == (12, 28, 28) and found.dtype == np.float32
    # The inverted 28×28 digit (black on white) reads as the same digit, white on black.
    inverted = found[[i for i, lab in enumerate(found_labels) if lab == 3]]
    assert min(np.abs(x - images[3]).max() for x in inverted) < 0.01
    notes = "\n".join(skipped)
    assert "nolabel.png: no label" in notes and "7_broken.png: not a readable" in notes
    assert "20261201T1200.png: no label" in notes
    assert "5_blank.png: blank" in notes and ".hidden" not in notes
    assert not any(".canvas" in note for note in skipped)  # My digits' own copies: ignored
    with pytest.raises(ConfigError, match="not a folder"):
        labelled_pngs(tmp_path / "missing")


def test_at_least_three_of_each_digit() -> None:
    check_enough(np.repeat(np.arange(10), 3))
    short = np.repeat(np.arange(10), [3, 3, 3, 2, 3, 3, 3, 0, 3, 9])
    with pytest.raises(ConfigError, match=r"too few of: 3 \(2 of 3\), 7 \(0 of 3\)"):
        check_enough(short)


def test_holdout_is_per_digit_and_never_empties_a_digit() -> None:
    labels = np.repeat(np.arange(10), [5, 5, 5, 5, 5, 5, 5, 5, 5, 12])
    train, held = split_holdout(labels, 0.2, seed=0)
    assert len(np.intersect1d(train, held)) == 0 and len(train) + len(held) == len(labels)
    assert np.bincount(labels[held], minlength=10).tolist() == [1] * 9 + [2]
    assert (np.bincount(labels[train], minlength=10) >= 4).all()
    assert np.array_equal(split_holdout(labels, 0.2, seed=0)[1], held)  # seeded
    # With only the minimum of each digit, every drawing teaches: none is held back.
    few = np.repeat(np.arange(10), MIN_PER_DIGIT)
    assert len(split_holdout(few, 0.2, seed=0)[1]) == 0
    assert len(split_holdout(labels, 0.0, seed=0)[1]) == 0


def test_base_for_a_model_file(tmp_path: Path) -> None:
    from core.runs.store import RunStore

    run = RunStore().create({"model": "dl-tiny-1k"})
    assert base_for({}) == BUNDLED
    assert base_for({"digitlab.run": run.id}) == run.id
    assert base_for({"digitlab.run": "20990101-000000-gone"}) == BUNDLED  # deleted run
    # A personal model is taught again from its own base, not from itself.
    assert base_for({"digitlab.base": run.id, "digitlab.run": "other"}) == run.id
    assert base_for({"digitlab.base": BUNDLED}) == BUNDLED


def test_the_bundled_model_ships_what_fine_tuning_needs() -> None:
    """Teach it my hand starts from the bundled model by default: its checkpoint must ship."""
    assert bundled_checkpoint_path().is_file()


def test_fine_tuning_the_bundled_model_learns_a_real_hand(mnist_dir: Path, tmp_path: Path,
                                                         pen_digits) -> None:
    """A real validation writer (pendigits 28, whose flagged 1s and straight-stemmed 9s the
    bundled model misreads): after fine-tuning on 3 drawings of each digit, more of the
    writer's other digits are read right, MNIST barely moves, and the file is a valid DigitLab
    model recording where it came from."""
    from core.data.pendigits import read_digits

    digits = pen_digits.of_writers([28])
    images = read_digits(digits, paths=("strokes",), seed=28)["strokes"]
    teach = np.zeros(len(digits), dtype=bool)
    for d in range(10):
        teach[np.flatnonzero(digits.labels == d)[:MIN_PER_DIGIT]] = True
    job = Recorder()
    out = tmp_path / "personal.onnx"
    result = finetune(BUNDLED, images[teach], digits.labels[teach], out,
                      data_dir=str(mnist_dir), job=job)
    assert result.n_train == 10 * MIN_PER_DIGIT and result.n_holdout == 0
    clf = DigitClassifier(out)
    before = DigitClassifier(bundled_model_path())
    rest, truth = images[~teach], digits.labels[~teach]
    after_acc = (clf.predict_proba(rest).argmax(1) == truth).mean()
    before_acc = (before.predict_proba(rest).argmax(1) == truth).mean()
    assert after_acc > before_acc + 0.02, (before_acc, after_acc)
    assert result.mnist_after >= result.mnist_before - 0.2
    assert clf.is_digitlab_export and clf.metadata["digitlab.base"] == BUNDLED
    assert float(clf.metadata["digitlab.test_accuracy"]) == pytest.approx(result.mnist_after,
                                                                          abs=0.01)
    assert any("step 300/300" in m for m in job.messages)
    assert "fine-tuned on all 30 of your digits" in result.summary()


def test_fine_tuning_a_run_and_stopping(mnist_dir: Path, tmp_path: Path) -> None:
    """Any run can be the base (here an untrained tiny net: quick); a stop request ends the
    work with nothing written."""
    import torch

    from core.models import build_model
    from core.runs.store import RunStore
    from core.training.checkpoints import save_checkpoint
    from core.training.config import TrainConfig
    from tests.core.data.test_my_digits import checkpoint_of

    torch.manual_seed(0)
    config = TrainConfig(model="dl-tiny-1k").to_dict()
    run = RunStore().create(config)
    save_checkpoint(run.checkpoint_path("last"), checkpoint_of(build_model("dl-tiny-1k"), config))
    images, labels = hand(5)
    out = tmp_path / "tiny.onnx"
    settings = FinetuneSettings(steps=20)
    result = finetune(run.id, images, labels, out, settings, data_dir=str(mnist_dir))
    assert out.is_file() and DigitClassifier(out).metadata["digitlab.base"] == run.id
    assert result.n_holdout == 10 and not math.isnan(result.mnist_after)
    with pytest.raises(FinetuneStopped):
        finetune(run.id, images, labels, tmp_path / "never.onnx", settings,
                 data_dir=str(mnist_dir), job=Recorder(stop_after=2))
    assert not (tmp_path / "never.onnx").exists()
    with pytest.raises(ConfigError, match=f"at least {MIN_PER_DIGIT}"):
        finetune(run.id, images[:20], labels[:20], tmp_path / "few.onnx", settings,
                 data_dir=str(mnist_dir))


def test_a_missing_bundled_checkpoint_says_what_to_do(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import core.workflows.finetune as finetune_module
    from core.errors import ModelFileError

    monkeypatch.setattr(finetune_module, "bundled_checkpoint_path", lambda: tmp_path / "no.pt")
    images, labels = hand(5)
    with pytest.raises(ModelFileError, match=r"lacks the bundled model's checkpoint.*train a run"):
        finetune(BUNDLED, images, labels, tmp_path / "p.onnx")
