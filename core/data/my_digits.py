""""My digits": the user's own handwriting, saved with true labels, as a personal test set.

numpy + Pillow only (no Qt; torch only inside `score_run`, imported when called).

On disk, under `core.paths.my_digits_dir()` (one folder of PNGs, no index file to corrupt):

    my_digits/<label>/<id>.png          the 28×28 image the model sees: grey, white ink on black,
                                        exactly MNIST's format (uint8, as MNIST stores it)
    my_digits/<label>/<id>.canvas.png   the original drawing as an ink map (grey, white on black,
                                        canvas resolution) so the set can be re-preprocessed later

`<id>` is a UTC timestamp with microseconds (`20261122T202652-123456`), so names sort by save
time across labels and never collide within one process. Each file is written atomically; the
label is the folder name, so moving a PNG to another folder relabels it. Files that are not
28×28 grey-readable PNGs are skipped when loading, never fatal: the user may drop anything there.
"""

from __future__ import annotations

import hashlib
import io
import math
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from core.data.canvas import SIZE, canvas_to_mnist, ink_map
from core.data.mnist import MNIST_MEAN, MNIST_STD
from core.errors import ConfigError, ImageError
from core.fileio import write_bytes_atomic
from core.paths import my_digits_dir

if TYPE_CHECKING:
    from core.onnx_io.classifier import DigitClassifier
    from core.runs.store import Run

CANVAS_SUFFIX = ".canvas.png"
LABELS = range(10)


@dataclass(frozen=True)
class MyDigit:
    """One saved digit: where its 28×28 PNG lies and its true label."""

    id: str
    label: int
    path: Path  # the 28×28 PNG

    @property
    def canvas_path(self) -> Path:
        return self.path.with_name(self.id + CANVAS_SUFFIX)


@dataclass(frozen=True)
class DigitScore:
    """How a model does on My digits. Accuracies in percent; nan when there is nothing to score."""

    accuracy: float
    n: int
    correct: int
    per_class: dict[int, tuple[int, int]]  # label → (correct, total), labels present only
    predictions: np.ndarray = field(repr=False, compare=False)  # (n,) int: predicted digits

    def class_accuracy(self, label: int) -> float:
        correct, total = self.per_class.get(label, (0, 0))
        return 100.0 * correct / total if total else math.nan

    def to_record(self) -> dict[str, Any]:
        """JSON-ready summary, as stored in `run.record.scores["my_digits"]`."""
        return {
            "accuracy": round(self.accuracy, 2) if self.n else None,
            "n": self.n,
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "per_class": {str(k): round(self.class_accuracy(k), 2) for k in self.per_class},
        }


def score_predictions(predictions: np.ndarray, labels: np.ndarray) -> DigitScore:
    """Predicted digits (N,) against true labels (N,) → DigitScore."""
    predictions = np.asarray(predictions, dtype=np.int64).reshape(-1)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    hits = predictions == labels
    per_class = {int(d): (int(hits[labels == d].sum()), int((labels == d).sum()))
                 for d in np.unique(labels)}
    n = int(labels.size)
    correct = int(hits.sum())
    accuracy = 100.0 * correct / n if n else math.nan
    return DigitScore(accuracy, n, correct, per_class, predictions)


class MyDigits:
    """The personal test set on disk. Every call reads the folder afresh (it is small: a few
    hundred PNGs of ~300 bytes load in milliseconds), so several instances never disagree."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else my_digits_dir()

    # ------------------------------------------------------------------ reading

    def entries(self) -> list[MyDigit]:
        """Every saved digit, oldest first (ids sort by save time)."""
        found: list[MyDigit] = []
        for label in LABELS:
            folder = self.root / str(label)
            if not folder.is_dir():
                continue
            for path in folder.glob("*.png"):
                if path.name.endswith(CANVAS_SUFFIX) or path.name.startswith("."):
                    continue
                found.append(MyDigit(path.stem, label, path))
        return sorted(found, key=lambda e: (e.id, e.label))

    def count(self) -> int:
        return len(self.entries())

    def counts_per_label(self) -> dict[int, int]:
        """label → number of saved digits, for all ten labels (zeros included)."""
        counts = dict.fromkeys(LABELS, 0)
        for entry in self.entries():
            counts[entry.label] += 1
        return counts

    def images_labels(self) -> tuple[np.ndarray, np.ndarray]:
        """(N, 28, 28) float32 in [0, 1] white on black, and (N,) int64 labels, oldest first.

        Unreadable or wrongly sized files are skipped, so N can be below `count()`.
        """
        images, labels = [], []
        for entry in self.entries():
            image = _read_digit_png(entry.path)
            if image is not None:
                images.append(image)
                labels.append(entry.label)
        if not images:
            return np.zeros((0, SIZE, SIZE), np.float32), np.zeros((0,), np.int64)
        return np.stack(images), np.asarray(labels, dtype=np.int64)

    def fingerprint(self) -> str:
        """A short hash of which digits the set holds: a stored score with another fingerprint
        was computed on a different set (digits added or removed since)."""
        text = "\n".join(f"{e.label}/{e.id}" for e in self.entries())
        return hashlib.sha1(text.encode()).hexdigest()[:12]

    # ------------------------------------------------------------------ writing

    def add(self, canvas_or_image: np.ndarray, label: int, *,
            drawing: np.ndarray | None = None) -> MyDigit:
        """Save a drawing (any canvas `canvas_to_mnist` accepts) or a ready (28, 28) image.

        A (28, 28) array is taken as an MNIST-format image as it is (float in [0, 1] or uint8,
        white on black); anything else is a canvas and goes through `canvas_to_mnist`, and its
        ink map is kept beside it. `drawing` is the canvas a ready image was made from (the Draw
        tab redraws its strokes, `core.data.strokes`), kept beside it the same way. Raises
        ImageError when the canvas holds no digit and ConfigError for a label outside 0–9.
        """
        is_int = isinstance(label, int | np.integer) and not isinstance(label, bool)
        if not is_int or not 0 <= label <= 9:
            raise ConfigError(f"label {label!r} is not a digit; choose 0–9.")
        label = int(label)
        array = np.asarray(canvas_or_image)
        canvas: np.ndarray | None = None
        if array.shape == (SIZE, SIZE):
            image = array.astype(np.float32)
            if array.dtype == np.uint8 or image.max() > 1.0 + 1e-3:
                image /= 255.0
            image = np.clip(np.nan_to_num(image), 0.0, 1.0)
            canvas = None if drawing is None else np.asarray(drawing)
        else:
            try:
                converted = canvas_to_mnist(array)
            except ValueError as e:
                raise ImageError(f"This drawing cannot be saved: {e}.") from e
            if converted is None:
                raise ImageError("The canvas holds no digit; draw one before saving it.")
            image, canvas = converted, array
        try:
            ink = None if canvas is None else np.round(ink_map(canvas) * 255).astype(np.uint8)
        except ValueError as e:
            raise ImageError(f"This drawing cannot be saved: {e}.") from e
        entry = self._new_entry(label)
        # The canvas first: a digit PNG present means its whole entry is there.
        if ink is not None:
            write_bytes_atomic(entry.canvas_path, _png_bytes(ink))
        write_bytes_atomic(entry.path, _png_bytes(np.round(image * 255).astype(np.uint8)))
        return entry

    def remove(self, index: int) -> MyDigit:
        """Delete the index-th digit of `entries()` (negative counts from the newest)."""
        entries = self.entries()
        try:
            entry = entries[index]
        except IndexError:
            raise ConfigError(f"There is no saved digit number {index} "
                              f"(the set holds {len(entries)}).") from None
        entry.path.unlink(missing_ok=True)
        entry.canvas_path.unlink(missing_ok=True)
        return entry

    def clear(self) -> None:
        """Delete every saved digit (only the label folders this store writes)."""
        for label in LABELS:
            shutil.rmtree(self.root / str(label), ignore_errors=True)

    def _new_entry(self, label: int) -> MyDigit:
        folder = self.root / str(label)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S-%f")
        digit_id, n = stamp, 1
        while any((self.root / str(d) / f"{digit_id}.png").exists() for d in LABELS):
            n += 1  # two saves within one microsecond (or a clock step back)
            digit_id = f"{stamp}-{n}"
        return MyDigit(digit_id, label, folder / f"{digit_id}.png")

    # ------------------------------------------------------------------ scoring

    def score_classifier(self, clf: DigitClassifier) -> DigitScore:
        """Accuracy of an ONNX classifier on the whole set (n = 0: accuracy nan)."""
        images, labels = self.images_labels()
        if labels.size == 0:
            return score_predictions(labels, labels)
        predictions = np.argmax(clf.predict_proba(images), axis=1)
        return score_predictions(predictions, labels)


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

    from core.training.checkpoints import model_from_state

    store = store if store is not None else MyDigits()
    images, labels = store.images_labels()
    if labels.size == 0:
        return score_predictions(labels, labels)
    from core.runs.best import resolve_checkpoint

    checkpoint = resolve_checkpoint(run.record, checkpoint)  # None: never one test picked
    model = model_from_state(run.load_checkpoint(checkpoint)).cpu()
    x = (torch.from_numpy(images)[:, None] - MNIST_MEAN) / MNIST_STD  # (N, 1, 28, 28)
    with torch.inference_mode():
        predictions = torch.cat([model(batch).argmax(dim=1) for batch in x.split(1024)])
    score = score_predictions(predictions.numpy(), labels)
    if record:
        entry = score.to_record()
        entry.update(checkpoint=checkpoint, fingerprint=store.fingerprint())
        run.record.scores["my_digits"] = entry
        run.save_record()
    return score


def _png_bytes(grey: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    # A 2-D uint8 array becomes an 8-bit grey ("L") PNG.
    Image.fromarray(np.ascontiguousarray(grey, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _read_digit_png(path: Path) -> np.ndarray | None:
    """A saved 28×28 PNG → (28, 28) float32 in [0, 1]; None when unreadable or another size."""
    try:
        with Image.open(path) as im:
            grey = np.asarray(im.convert("L"), dtype=np.float32)
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    if grey.shape != (SIZE, SIZE):
        return None
    return grey * np.float32(1 / 255)


MAX_IMAGE_PIXELS = 4096 * 4096  # a larger file is no drawing of one digit: skipped unread


def labelled_pngs(folder: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Labelled digit images in `folder` → (N, 28, 28) float32 in [0, 1], (N,) int64 labels and
    one note per file skipped ("name: why").

    A PNG in a folder named 0–9 (My digits' own layout) has that label; any other PNG in the
    folder or its subfolders has the digit its file name starts with (`7.png`, `3_anna.png`;
    not a name starting with a longer number, such as a time stamp).
    A 28×28 image is taken as MNIST-format (either polarity: the border is the background);
    a larger one is a drawing and goes through `canvas_to_mnist`. My digits' `*.canvas.png`
    copies, hidden files and links are ignored; unreadable, label-less and blank images are
    skipped, never fatal.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder: give the folder that holds the labelled "
                          f"PNGs.")
    images, labels, skipped = [], [], []
    for path in sorted(_png_files(folder)):
        name = str(path.relative_to(folder))
        parent = path.parent.name  # the folder given may itself be one label's ("…/7")
        label = (int(parent) if len(parent) == 1 and parent.isdigit()
                 else _leading_digit(path.stem))
        if label is None:
            skipped.append(f"{name}: no label (put it in a folder 0-9 or start its name with "
                           f"the digit)")
            continue
        image, why = _read_labelled(path)
        if image is None:
            skipped.append(f"{name}: {why}")
            continue
        images.append(image)
        labels.append(label)
    if not images:
        return np.zeros((0, SIZE, SIZE), np.float32), np.zeros((0,), np.int64), skipped
    return np.stack(images), np.asarray(labels, dtype=np.int64), skipped


def _leading_digit(stem: str) -> int | None:
    """The digit a file name starts with when it is one digit ("7", "7_anna", "3-b"); None
    for a name starting with a number of several digits (a My-digits time stamp, "12")."""
    if stem[:1].isdigit() and not stem[1:2].isdigit():
        return int(stem[0])
    return None


def _png_files(folder: Path) -> list[Path]:
    """PNGs directly in `folder` and one level below, not following links."""
    found = []
    for entry in folder.iterdir():
        if entry.name.startswith(".") or entry.is_symlink():
            continue
        inner = entry.iterdir() if entry.is_dir() else [entry]
        for path in inner:
            if (path.suffix.lower() == ".png" and not path.name.endswith(CANVAS_SUFFIX)
                    and not path.name.startswith(".") and not path.is_symlink()
                    and path.is_file()):
                found.append(path)
    return found


def _read_labelled(path: Path) -> tuple[np.ndarray | None, str]:
    """(28, 28) float32 image, or None and why not."""
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                return None, f"{im.width}×{im.height} is too large for a digit"
            grey = np.asarray(im.convert("L"))
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None, "not a readable image"
    if grey.shape == (SIZE, SIZE):
        image = ink_map(grey)
        return (image, "") if image.max() > 0 else (None, "blank")
    try:
        image = canvas_to_mnist(grey)
    except ValueError as e:
        return None, str(e)
    return (image, "") if image is not None else (None, "no digit in it")
