"""The uncompressed MNIST copy: used when it matches the sources, never when they changed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import core.data.mnist as mnist
from core.data.mnist import find_mnist_files, load_arrays, write_idx
from core.data.mnist_cache import cache_folder, cache_key
from core.errors import DatasetError
from tests.core.data.test_mnist import make_set


def _cache_of(folder: Path, home: Path) -> Path:
    files = find_mnist_files(folder)
    assert files is not None
    return cache_folder(cache_key(files), home / "cache")


def _forbid_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("the gzipped source was decoded although a valid copy exists")

    monkeypatch.setattr(mnist, "read_idx", fail)


def test_second_load_reads_the_copy_not_the_gzip(tmp_path: Path, digitlab_home: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    arrays = make_set(tmp_path / "src")
    first = load_arrays(tmp_path / "src")
    assert sorted(p.name for p in _cache_of(tmp_path / "src", digitlab_home).iterdir()) == [
        "test_images.npy", "test_labels.npy", "train_images.npy", "train_labels.npy"]
    _forbid_decoding(monkeypatch)
    second = load_arrays(tmp_path / "src")
    assert isinstance(second.train_images, np.memmap)  # mapped, not read into memory
    np.testing.assert_array_equal(second.train_images, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(second.test_labels, first.test_labels)


def test_a_changed_source_is_read_again(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_set(src, seed=0)
    load_arrays(src)
    # Same size, same modification time, other pixels: only the content hash tells them apart.
    path = src / "train-images-idx3-ubyte.gz"
    stat = path.stat()
    new = make_set(tmp_path / "other", seed=1)["train-images-idx3-ubyte"]
    write_idx(path, new)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    np.testing.assert_array_equal(load_arrays(src).train_images, new)


def test_a_damaged_copy_falls_back_to_the_source(tmp_path: Path, digitlab_home: Path) -> None:
    arrays = make_set(tmp_path / "src")
    load_arrays(tmp_path / "src")
    copy = _cache_of(tmp_path / "src", digitlab_home) / "train_images.npy"
    copy.write_bytes(copy.read_bytes()[:100])  # truncated
    data = load_arrays(tmp_path / "src")
    np.testing.assert_array_equal(data.train_images, arrays["train-images-idx3-ubyte"])


def test_an_unwritable_cache_only_costs_time(tmp_path: Path, digitlab_home: Path) -> None:
    digitlab_home.mkdir(parents=True)
    (digitlab_home / "cache").write_text("a file where the cache folder should be")
    arrays = make_set(tmp_path / "src")
    data = load_arrays(tmp_path / "src")
    np.testing.assert_array_equal(data.train_labels, arrays["train-labels-idx1-ubyte"])


def test_plain_files_and_bad_files_are_not_copied(tmp_path: Path, digitlab_home: Path) -> None:
    make_set(tmp_path / "plain", gz=False)
    load_arrays(tmp_path / "plain")
    assert not (digitlab_home / "cache").exists()  # plain IDX is read at disk speed already
    arrays = make_set(tmp_path / "bad")
    labels = arrays["train-labels-idx1-ubyte"].copy()
    labels[0] = 11
    write_idx(tmp_path / "bad" / "train-labels-idx1-ubyte.gz", labels)
    for _ in range(2):  # refused from the source, and again: nothing was cached to skip the check
        with pytest.raises(DatasetError, match="label 11"):
            load_arrays(tmp_path / "bad")
    assert not (digitlab_home / "cache").exists()
