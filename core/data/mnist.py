"""MNIST-format datasets: find, fetch, check and load the four IDX files.

Reads any set in the MNIST IDX format (MNIST, Fashion-MNIST, ...) from a folder holding
`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
`t10k-labels-idx1-ubyte`, gzipped or not, also in torchvision's `MNIST/raw/` layout.
numpy only at import; torch is imported where the arrays move to a device.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.data.mnist_cache import MAX_IDX_BYTES, load_cached, store_cached
from core.errors import DatasetError
from core.fileio import check_regular_file, read_untrusted
from core.paths import default_data_dir

if TYPE_CHECKING:
    import torch

# The normalisation everyone quotes for MNIST (training-set pixel mean and std).
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


def normalize(pixels: Any) -> Any:
    """[0, 1] pixels → what the networks read: (x − MNIST_MEAN) / MNIST_STD, the one place it is
    written. Works on torch tensors, numpy arrays (float32 stays float32) and plain floats."""
    return (pixels - MNIST_MEAN) / MNIST_STD

SPLITS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IMAGE_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABEL_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension

ProgressFn = Callable[[str, int, int], None]  # (what, done_bytes, total_bytes or 0 when unknown)


@dataclass(frozen=True)
class MnistArrays:
    """The whole dataset as uint8 arrays: images (N, 28, 28), labels (N,).

    `val_*` hold an optional validation split taken out of the training set, so that choices
    (architecture, epochs, hyper-parameters) can be made without looking at the test set.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str  # the folder it was read from, for run records
    val_images: np.ndarray | None = None
    val_labels: np.ndarray | None = None

    def subset(self, train: int = 0, test: int = 0) -> MnistArrays:
        """First `train`/`test` samples (0 = all): quick runs for tests and smoke checks."""
        tr = slice(None) if train <= 0 else slice(0, train)
        te = slice(None) if test <= 0 else slice(0, test)
        return replace(self, train_images=self.train_images[tr],
                       train_labels=self.train_labels[tr],
                       test_images=self.test_images[te], test_labels=self.test_labels[te])

    def with_validation(self, n_val: int, seed: int = 0) -> MnistArrays:
        """Hold out `n_val` random training images (chosen by `seed`) as the validation split."""
        n = len(self.train_labels)
        if not 0 < n_val < n:
            raise DatasetError(f"A validation split of {n_val} images is impossible with {n} "
                               f"training images: choose between 1 and {n - 1}.")
        order = np.random.default_rng(seed).permutation(n)
        val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
        return replace(self, train_images=self.train_images[train_idx],
                       train_labels=self.train_labels[train_idx],
                       val_images=self.train_images[val_idx], val_labels=self.train_labels[val_idx])


# --- reading IDX files -------------------------------------------------------------------------

def _open_bytes(path: Path) -> bytes:
    try:  # kind and size checked before reading; the data folder's files may be links
        raw = read_untrusted(path, MAX_IDX_BYTES, follow_links=True)
    except OSError as e:
        raise DatasetError(f"Cannot read {path}: {e.strerror or e}.") from e
    if raw[:2] == b"\x1f\x8b":  # gzip magic
        try:  # unpacked to at most MAX_IDX_BYTES: a gzip bomb stops there
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as unzipped:
                data = unzipped.read(MAX_IDX_BYTES + 1)
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise DatasetError(f"{path.name} is a damaged gzip archive ({e}). Delete it and fetch "
                               f"MNIST again, or point DigitLab at an intact copy.") from e
        if len(data) > MAX_IDX_BYTES:
            raise DatasetError(f"{path.name} unpacks to more than {MAX_IDX_BYTES // 2**20} MB; "
                               f"it is not an MNIST file.")
        return data
    return raw


def read_idx(path: Path, expect_magic: int | None = None) -> np.ndarray:
    """Read one IDX file (optionally gzipped) as a uint8 array, checking header and size."""
    path = Path(path)
    data = _open_bytes(path)
    if len(data) < 8:
        raise DatasetError(f"{path.name} is too short to be an IDX file ({len(data)} bytes).")
    magic = int.from_bytes(data[0:4], "big")
    if expect_magic is not None and magic != expect_magic:
        kind = "image" if expect_magic == IMAGE_MAGIC else "label"
        raise DatasetError(f"{path.name} has the wrong magic number {magic} (expected "
                           f"{expect_magic} for an IDX {kind} file): it is not the file its name "
                           f"says. Replace it with the real one.")
    if data[2] != 0x08:
        raise DatasetError(f"{path.name} holds IDX type 0x{data[2]:02x}; only unsigned bytes "
                           f"(0x08) are MNIST-format.")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DatasetError(f"{path.name} has a damaged header ({ndim} dimensions).")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise DatasetError(f"{path.name} is truncated or padded: its header announces "
                           f"{'x'.join(map(str, dims))} values ({expected} bytes) but it has "
                           f"{len(data)} bytes. Fetch it again.")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def write_idx(path: Path, array: np.ndarray, compress: bool | None = None) -> None:
    """Write a uint8 array as an IDX file (gzipped when the name ends in .gz). Used by tests."""
    path = Path(path)
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + array.tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        payload = gzip.compress(payload, compresslevel=1)
    path.write_bytes(payload)


# --- finding files ------------------------------------------------------------------------------

def _candidates(folder: Path) -> list[Path]:
    """Folders that may hold the files: the folder itself and torchvision's layouts under it."""
    return [folder, folder / "raw", folder / "MNIST" / "raw"]


def _find_file(folder: Path, stem: str) -> Path | None:
    # Accept "train-images-idx3-ubyte" and the dotted variant "train-images.idx3-ubyte".
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        p = folder / name
        if p.is_file():
            return p
    return None


def find_mnist_files(folder: Path) -> dict[str, Path] | None:
    """The four files under `folder` (or its raw/ layouts), or None when any is missing."""
    for cand in _candidates(Path(folder)):
        found = {key: _find_file(cand, stem) for key, stem in SPLITS.items()}
        if all(found.values()):
            return found  # type: ignore[return-value]
    return None


def partial_files(folder: Path) -> tuple[Path, list[str]] | None:
    """Where some but not all of the four files are: (that folder, the missing file names).

    A folder holding three of the four is a user's copy gone wrong, not a folder to fetch into:
    say which file is missing instead of downloading over (or blaming) the ones present.
    """
    best: tuple[Path, list[str]] | None = None
    for cand in _candidates(Path(folder)):
        missing = [stem for stem in SPLITS.values() if _find_file(cand, stem) is None]
        if 0 < len(missing) < len(SPLITS) and (best is None or len(missing) < len(best[1])):
            best = (cand, missing)
    return best


def describe_missing(folder: Path) -> str:
    partial = partial_files(folder)
    if partial is not None:
        where, missing = partial
        return (f"{where} has {len(SPLITS) - len(missing)} of the four MNIST files but not "
                f"{' nor '.join(missing)} (gzipped or not). Copy the missing file there, or "
                f"point DigitLab at a folder that has all four (--data or DIGITLAB_DATA).")
    return (f"No MNIST files in {folder}. It needs the four IDX files "
            f"({', '.join(SPLITS.values())}, gzipped or not). Fetch them from the Train tab or "
            f"with `digitlab-cli fetch`, or point DigitLab at a folder that has them "
            f"(--data or DIGITLAB_DATA).")


def load_arrays(folder: Path) -> MnistArrays:
    """Load and check the four files from `folder`; no downloading."""
    files = find_mnist_files(folder)
    if files is None:
        raise DatasetError(describe_missing(folder))
    cached = load_cached(files)  # an uncompressed copy of gzipped files, checked by hash
    arrays = cached or {
        key: read_idx(path, IMAGE_MAGIC if key.endswith("images") else LABEL_MAGIC)
        for key, path in files.items()
    }
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DatasetError(f"{files[f'{split}_images'].name} holds images of shape "
                               f"{images.shape[1:]}; MNIST-format images are 28x28.")
        if len(images) != len(labels):
            raise DatasetError(f"{files[f'{split}_images'].name} has {len(images)} images but "
                               f"{files[f'{split}_labels'].name} has {len(labels)} labels.")
        if len(images) == 0:
            raise DatasetError(f"{files[f'{split}_images'].name} holds 0 images: the {split} "
                               f"split needs at least one. Replace it with the real file.")
        if labels.size and labels.max() > 9:
            raise DatasetError(f"{files[f'{split}_labels'].name} has label {labels.max()}; "
                               f"labels must be 0-9.")
    if cached is None:
        store_cached(files, arrays)  # only files that passed every check above
    return MnistArrays(**arrays, source=str(folder))


# --- fetching -----------------------------------------------------------------------------------

def _download(url: str, dest: Path, what: str, progress: ProgressFn | None) -> None:
    with urllib.request.urlopen(url, timeout=30) as resp:
        total = int(resp.headers.get("Content-Length") or 0)
        done = 0
        with open(dest, "wb") as out:
            while chunk := resp.read(1 << 16):
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(what, done, total)


def fetch_mnist(folder: Path, progress: ProgressFn | None = None,
                should_stop: Callable[[], bool] | None = None) -> Path:
    """Download MNIST into `folder`/MNIST/raw using torchvision's mirrors and checksums.

    Each file is downloaded to a temporary name, checked against torchvision's MD5, then renamed,
    so an interrupted fetch never leaves a file that looks complete. Returns the folder.
    """
    from torchvision.datasets import MNIST  # heavy import, only when fetching

    raw = Path(folder) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    for filename, md5 in MNIST.resources:
        target = raw / filename
        if target.is_file() and hashlib.md5(target.read_bytes()).hexdigest() == md5:
            continue
        for mirror in MNIST.mirrors:
            if should_stop and should_stop():
                raise DatasetError("Fetching MNIST was cancelled.")
            with tempfile.NamedTemporaryFile(dir=raw, prefix=f".{filename}.", delete=False) as t:
                tmp = Path(t.name)
            try:
                _download(mirror + filename, tmp, filename, progress)
                if hashlib.md5(tmp.read_bytes()).hexdigest() != md5:
                    raise ValueError("checksum mismatch")
                shutil.move(tmp, target)
                break
            except (urllib.error.URLError, OSError, ValueError) as e:
                errors.append(f"{mirror}{filename}: {getattr(e, 'reason', e)}")
            finally:
                tmp.unlink(missing_ok=True)
        else:
            raise DatasetError(
                f"Could not download {filename} (no network?). Tried: {'; '.join(errors[-2:])}. "
                f"Copy the four MNIST IDX files into a folder and point DigitLab at it "
                f"(--data or DIGITLAB_DATA).")
    return Path(folder)


def load_mnist(folder: Path | str | None = None, *, fetch: bool = True,
               progress: ProgressFn | None = None) -> MnistArrays:
    """MNIST from `folder` (else DIGITLAB_DATA, else the user data dir), fetching it if missing."""
    folder = Path(folder) if folder else default_data_dir()
    check_mnist_folder(folder)
    if find_mnist_files(folder) is None:
        if not fetch:
            raise DatasetError(describe_missing(folder))
        fetch_mnist(folder, progress)
    return load_arrays(folder)


def _header_count(path: Path) -> int:
    """The item count an IDX file's header announces, reading only the header."""
    try:
        check_regular_file(path, MAX_IDX_BYTES, follow_links=True)  # a FIFO would block open
        with open(path, "rb") as raw:
            header = raw.read(8)
            if header[:2] == b"\x1f\x8b":  # gzip magic: the header is inside the stream
                raw.seek(0)
                with gzip.GzipFile(fileobj=raw) as unzipped:
                    header = unzipped.read(8)
    except (OSError, EOFError) as e:
        raise DatasetError(f"Cannot read {path}: {getattr(e, 'strerror', None) or e}.") from e
    if len(header) < 8:
        raise DatasetError(f"{path.name} is too short to be an IDX file ({len(header)} bytes).")
    return int.from_bytes(header[4:8], "big")


def check_mnist_folder(folder: Path | str | None = None) -> None:
    """Cheap checks before any work: no partial folder, no split announcing 0 images.

    An empty folder passes (MNIST is fetched into it); the full checks come with loading.
    """
    folder = Path(folder) if folder else default_data_dir()
    files = find_mnist_files(folder)
    if files is None:
        if partial_files(folder) is not None:
            raise DatasetError(describe_missing(folder))
        return
    for split in ("train", "test"):
        images = files[f"{split}_images"]
        count = _header_count(images)
        if count == 0:
            raise DatasetError(f"{images.name} holds 0 images: the {split} split needs at "
                               f"least one. Replace it with the real file.")
        labels = _header_count(files[f"{split}_labels"])
        if labels != count:
            raise DatasetError(f"{images.name} has {count} images but "
                               f"{files[f'{split}_labels'].name} has {labels} labels.")


# --- on the training device ---------------------------------------------------------------------

@dataclass
class DeviceSplit:
    """One split resident on the training device: images uint8 (N, 28, 28), labels int64 (N,)."""

    images: torch.Tensor
    labels: torch.Tensor
    # Training only: a pen re-drawing of each image, uint8 (N, 28, 28) (core.data.pen_variants).
    variants: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def to_device(images: np.ndarray, labels: np.ndarray, device: torch.device) -> DeviceSplit:
    """Move a split to `device` once; uint8 keeps 60k images at 47 MB, batches go float there."""
    import torch

    # np.array copies: IDX buffers are read-only and torch wants writable memory.
    return DeviceSplit(torch.from_numpy(np.array(images, dtype=np.uint8)).to(device),
                       torch.from_numpy(labels.astype(np.int64)).to(device))
