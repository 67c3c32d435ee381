""""My digits": the user's own handwriting, saved with true labels, as a personal test set.

numpy + Pillow only (no Qt, no torch); scoring a trained run on it is
`core.workflows.my_digits.score_run`.

On disk, under `core.paths.my_digits_dir()` (one folder of PNGs, no index file to corrupt):

    my_digits/<label>/<id>.png          the 28×28 image the model sees: grey, white ink on black,
                                        exactly MNIST's format (uint8, as MNIST stores it)
    my_digits/<label>/<id>.canvas.png   the original drawing as an ink map (grey, white on black,
                                        canvas resolution) so the set can be re-preprocessed later

`<id>` is a UTC timestamp with microseconds (`20261122T202652-123456`), so names sort by save
time across labels and never collide within one process. Each file is written atomically; the
label is the folder name, so moving a PNG to another folder relabels it. Files that are not
28×28 grey-readable PNGs are skipped when loading, never fatal: the user may drop anything there;
each one skipped is named with the reason (`DigitScore.skipped`).

Trust: the folder may hold anything. Links (a label folder or a file) are never followed, written
through or deleted through, and nothing but regular files is opened (a FIFO would block for ever);
each file is size-checked before it is read and its header before it is decoded.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import shutil
import stat
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image, UnidentifiedImageError

from core.data.canvas import SIZE, canvas_to_mnist, ink_map
from core.errors import ConfigError, ImageError
from core.fileio import read_untrusted, write_bytes_atomic
from core.paths import my_digits_dir


class Predictor(Protocol):
    """What My digits can score: anything that reads (N, 28, 28) float32 [0, 1] images into
    (N, 10) scores (core.onnx_io.classifier.DigitClassifier, for one)."""

    def predict_proba(self, images: np.ndarray) -> np.ndarray: ...

CANVAS_SUFFIX = ".canvas.png"
LABELS = range(10)
MAX_DIGIT_FILE_BYTES = 1 * 2**20  # a saved 28×28 PNG is ~300 bytes
MAX_IMAGE_FILE_BYTES = 32 * 2**20  # a labelled drawing (finetune --images) of any size


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
    skipped: tuple[str, ...] = ()  # one "label/file: why" per file in the set not scored

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


def score_predictions(predictions: np.ndarray, labels: np.ndarray,
                      skipped: tuple[str, ...] | list[str] = ()) -> DigitScore:
    """Predicted digits (N,) against true labels (N,) → DigitScore (`skipped`: files left out,
    "label/name: why")."""
    predictions = np.asarray(predictions, dtype=np.int64).reshape(-1)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    hits = predictions == labels
    per_class = {int(d): (int(hits[labels == d].sum()), int((labels == d).sum()))
                 for d in np.unique(labels)}
    n = int(labels.size)
    correct = int(hits.sum())
    accuracy = 100.0 * correct / n if n else math.nan
    return DigitScore(accuracy, n, correct, per_class, predictions, tuple(skipped))


class MyDigits:
    """The personal test set on disk. Every call reads the folder afresh (it is small: a few
    hundred PNGs of ~300 bytes load in milliseconds), so several instances never disagree."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else my_digits_dir()

    # ------------------------------------------------------------------ reading

    def entries(self) -> list[MyDigit]:
        """Every saved digit, oldest first (ids sort by save time): regular files in plain
        label folders only (see `scan` for what is left out and why)."""
        return self.scan()[0]

    def scan(self) -> tuple[list[MyDigit], list[str]]:
        """The saved digits, and one "label/name: why" per entry left out: a label folder or
        file that is a link (never followed), a FIFO, device or other special file."""
        found: list[MyDigit] = []
        skipped: list[str] = []
        if _is_link(self.root):
            return found, [f"{self.root.name}: the My digits folder is a link; DigitLab does "
                           f"not follow it"]
        for label in LABELS:
            folder = self.root / str(label)
            if _is_link(folder):
                skipped.append(f"{label}: the label folder is a link; DigitLab does not "
                               f"follow it (remove the link)")
                continue
            try:
                items = list(os.scandir(folder))
            except OSError:  # missing (nothing saved with this label) or not a folder
                continue
            for item in items:
                name = item.name
                if (not name.endswith(".png") or name.endswith(CANVAS_SUFFIX)
                        or name.startswith(".")):
                    continue
                why = _not_a_plain_file(item)
                if why:
                    skipped.append(f"{label}/{name}: {why}")
                    continue
                found.append(MyDigit(name[:-len(".png")], label, Path(item.path)))
        return sorted(found, key=lambda e: (e.id, e.label)), sorted(skipped)

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

        Unreadable or wrongly sized files are skipped, so N can be below `count()`; `load`
        also says which and why.
        """
        images, labels, _ = self.load()
        return images, labels

    def load(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """`images_labels()` and one "label/name: why" per file left out (links, special
        files, unreadable, too large, not 28×28): never fatal, never silent."""
        entries, skipped = self.scan()
        images, labels = [], []
        for entry in entries:
            image, why = _read_digit_png(entry.path)
            if image is None:
                skipped.append(f"{entry.label}/{entry.path.name}: {why}")
                continue
            images.append(image)
            labels.append(entry.label)
        if not images:
            return np.zeros((0, SIZE, SIZE), np.float32), np.zeros((0,), np.int64), skipped
        return np.stack(images), np.asarray(labels, dtype=np.int64), skipped

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
        if _is_link(self.root) or _is_link(entry.path.parent):
            raise ImageError(f"My digits' folder {entry.path.parent} is a link to somewhere "
                             f"else; DigitLab does not write through links. Remove the link "
                             f"(its digits stay where it points) and save again.")
        # The canvas first: a digit PNG present means its whole entry is there.
        if ink is not None:
            write_bytes_atomic(entry.canvas_path, _png_bytes(ink))
        write_bytes_atomic(entry.path, _png_bytes(np.round(image * 255).astype(np.uint8)))
        return entry

    def remove(self, index: int) -> MyDigit:
        """Delete the index-th digit of `entries()` (negative counts from the newest): a regular
        file in a plain label folder, never anything a link leads to."""
        entries = self.entries()
        try:
            entry = entries[index]
        except IndexError:
            raise ConfigError(f"There is no saved digit number {index} "
                              f"(the set holds {len(entries)}).") from None
        entry.path.unlink(missing_ok=True)
        if not _is_link(entry.canvas_path):  # a link there is the user's: left alone
            entry.canvas_path.unlink(missing_ok=True)
        return entry

    def clear(self) -> None:
        """Delete every saved digit (only the label folders this store writes; a label folder
        that is a link loses the link only, never what it points to)."""
        if _is_link(self.root):
            return
        for label in LABELS:
            folder = self.root / str(label)
            if _is_link(folder):
                folder.unlink(missing_ok=True)
            else:
                shutil.rmtree(folder, ignore_errors=True)

    def _new_entry(self, label: int) -> MyDigit:
        folder = self.root / str(label)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S-%f")
        digit_id, n = stamp, 1
        while any((self.root / str(d) / f"{digit_id}.png").exists() for d in LABELS):
            n += 1  # two saves within one microsecond (or a clock step back)
            digit_id = f"{stamp}-{n}"
        return MyDigit(digit_id, label, folder / f"{digit_id}.png")

    # ------------------------------------------------------------------ scoring

    def score_classifier(self, clf: Predictor) -> DigitScore:
        """Accuracy of a classifier (an ONNX model) on the whole set (n = 0: accuracy nan);
        files left out are named in `skipped`."""
        images, labels, skipped = self.load()
        if labels.size == 0:
            return score_predictions(labels, labels, skipped)
        predictions = np.argmax(clf.predict_proba(images), axis=1)
        return score_predictions(predictions, labels, skipped)


def _png_bytes(grey: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    # A 2-D uint8 array becomes an 8-bit grey ("L") PNG.
    Image.fromarray(np.ascontiguousarray(grey, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _is_link(path: Path) -> bool:
    try:
        return stat.S_ISLNK(path.lstat().st_mode)
    except OSError:
        return False


def _not_a_plain_file(item: os.DirEntry[str]) -> str:
    """Why a folder entry is not a regular file to read ("" when it is one), without
    following a link or opening anything."""
    try:
        mode = item.stat(follow_symlinks=False).st_mode
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if stat.S_ISLNK(mode):
        return "a link; DigitLab does not follow it"
    if stat.S_ISDIR(mode):
        return "a folder, not an image"
    if not stat.S_ISREG(mode):
        return "a FIFO or device, not an image file"
    return ""


def _open_image(path: Path, max_bytes: int, max_pixels: int,
                follow_links: bool = False) -> tuple[Image.Image | None, str]:
    """A PIL image of a file checked first (kind, size) and whose header is checked before any
    pixel is decoded (a decompression bomb declares its size there); None and why not."""
    try:
        data = read_untrusted(path, max_bytes, follow_links=follow_links)
    except OSError as e:
        return None, str(e) if not e.strerror else e.strerror
    try:
        with warnings.catch_warnings():  # a bomb's warning: it is refused just below anyway
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        return None, "a decompression bomb (far too many pixels for a digit)"
    except (OSError, UnidentifiedImageError, ValueError):
        return None, "not a readable image"
    if im.width * im.height > max_pixels:
        im.close()
        return None, f"{im.width}×{im.height} pixels is too large for a digit"
    return im, ""


def _read_digit_png(path: Path) -> tuple[np.ndarray | None, str]:
    """A saved 28×28 PNG → (28, 28) float32 in [0, 1], or None and why not."""
    im, why = _open_image(path, MAX_DIGIT_FILE_BYTES, MAX_IMAGE_PIXELS)
    if im is None:
        return None, why
    try:
        with im:
            if im.size != (SIZE, SIZE):
                return None, f"{im.width}×{im.height}, not 28×28"
            grey = np.asarray(im.convert("L"), dtype=np.float32)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None, "damaged image data"
    return grey * np.float32(1 / 255), ""


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
    images, labels = [], []
    files, skipped = _png_files(folder)
    for path in sorted(files):
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


def _png_files(folder: Path) -> tuple[list[Path], list[str]]:
    """PNGs directly in `folder` and one level below, not following links; and one
    "name: why" per PNG left out (a link, a FIFO or other special file)."""
    found: list[Path] = []
    skipped: list[str] = []
    for entry in os.scandir(folder):
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            try:
                inner = list(os.scandir(entry.path))
            except OSError:
                continue
        else:
            inner = [entry]
        for item in inner:
            if (not item.name.lower().endswith(".png") or item.name.endswith(CANVAS_SUFFIX)
                    or item.name.startswith(".")):
                continue
            path = Path(item.path)
            why = _not_a_plain_file(item)
            if why:
                skipped.append(f"{path.relative_to(folder)}: {why}")
            else:
                found.append(path)
    return found, skipped


def _read_labelled(path: Path) -> tuple[np.ndarray | None, str]:
    """(28, 28) float32 image, or None and why not."""
    im, why = _open_image(path, MAX_IMAGE_FILE_BYTES, MAX_IMAGE_PIXELS)
    if im is None:
        return None, why
    try:
        with im:
            grey = np.asarray(im.convert("L"))
    except (OSError, ValueError, Image.DecompressionBombError):
        return None, "damaged image data"
    if grey.shape == (SIZE, SIZE):
        image = ink_map(grey)
        return (image, "") if image.max() > 0 else (None, "blank")
    try:
        image = canvas_to_mnist(grey)
    except ValueError as e:
        return None, str(e)
    return (image, "") if image is not None else (None, "no digit in it")
