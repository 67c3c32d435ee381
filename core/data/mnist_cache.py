"""An uncompressed copy of gzipped MNIST files, so that a run does not gunzip 55 MB every start.

`load_arrays` (core.data.mnist) asks `load_cached` first and hands what it decoded to
`store_cached`. The copy is one `.npy` per split under `<cache dir>/mnist/<key>/`, where the key
hashes each source file's name, size, modification time and SHA-256: any change to a source file
gives a new key, so a stale copy is never read. Each `.npy` is written atomically
(core.fileio) and read memory-mapped, without pickles. The cache is an optimisation only: a copy
that cannot be read or written is ignored and the source files are decoded as before.

Measured on the 2-core dev machine: decoding the four gzipped files takes ~0.45 s; hashing them
and mapping the cached copy ~0.03 s.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from core.errors import DigitLabError
from core.fileio import check_regular_file, read_untrusted, write_atomic
from core.paths import cache_dir

# MNIST's largest file is 47 MB unpacked; a data folder may hold other IDX sets, but nothing of
# gigabytes (or endless: a FIFO, /dev/zero) is read whole. core.data.mnist reads by it too.
MAX_IDX_BYTES = 256 * 2**20
CACHE_VERSION = 1  # bump when the cached layout changes: old copies are then never read


def is_worth_caching(files: dict[str, Path]) -> bool:
    """Only gzipped sources are slow to read; plain IDX files are read at disk speed."""
    for path in files.values():
        try:
            check_regular_file(path, MAX_IDX_BYTES, follow_links=True)  # a FIFO blocks open
            with open(path, "rb") as f:
                if f.read(2) == b"\x1f\x8b":
                    return True
        except OSError:
            return False  # reading it will fail with the proper message, not here
    return False


def cache_key(files: dict[str, Path]) -> str:
    """Hex key of the four source files: names, sizes, modification times and contents."""
    digest = hashlib.sha256(f"digitlab-mnist-cache-v{CACHE_VERSION}".encode())
    for split in sorted(files):
        path = files[split]
        st = path.stat()
        digest.update(f"{split}\0{path.name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        digest.update(hashlib.sha256(read_untrusted(path, MAX_IDX_BYTES,
                                                    follow_links=True)).digest())
    return digest.hexdigest()[:32]


def cache_folder(key: str, root: Path | None = None) -> Path:
    return (root if root is not None else cache_dir()) / "mnist" / key


def load_cached(files: dict[str, Path], root: Path | None = None) -> dict[str, np.ndarray] | None:
    """The cached arrays for `files` (read-only memory maps); None when no usable copy exists."""
    try:
        if not is_worth_caching(files):
            return None
        folder = cache_folder(cache_key(files), root)
        arrays = {}
        for split in files:
            path = folder / f"{split}.npy"
            if not path.is_file():
                return None
            check_regular_file(path, MAX_IDX_BYTES)  # our own copy: a plain file, not a link
            array = np.load(path, mmap_mode="r", allow_pickle=False)
            if array.dtype != np.uint8 or array.ndim not in (1, 3):
                return None
            arrays[split] = array
        return arrays
    except (OSError, ValueError):  # unreadable or damaged copy: decode the sources instead
        return None


def store_cached(files: dict[str, Path], arrays: dict[str, np.ndarray],
                 root: Path | None = None) -> bool:
    """Save `arrays` (decoded from `files`) for the next load; False when it could not be saved."""
    try:
        if not is_worth_caching(files):
            return False
        folder = cache_folder(cache_key(files), root)
        for split, array in arrays.items():
            data = np.ascontiguousarray(array, dtype=np.uint8)
            write_atomic(folder / f"{split}.npy",
                         lambda f, data=data: np.save(f, data, allow_pickle=False))
        return True
    except (OSError, DigitLabError):  # read-only or full disk: the cache is only an optimisation
        return False
