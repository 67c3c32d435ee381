"""The IDX loader on generated files, broken files and the real MNIST; fetching over file://."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from core.data.mnist import (
    IMAGE_MAGIC,
    LABEL_MAGIC,
    fetch_mnist,
    find_mnist_files,
    load_arrays,
    load_mnist,
    read_idx,
    write_idx,
)
from core.errors import DatasetError


def make_set(folder: Path, n_train: int = 50, n_test: int = 20, gz: bool = True,
             seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        write_idx(folder / (name + (".gz" if gz else "")), arr)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_generated_set_round_trips(tmp_path: Path, gz: bool) -> None:
    arrays = make_set(tmp_path, gz=gz)
    data = load_arrays(tmp_path)
    np.testing.assert_array_equal(data.train_images, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(data.test_labels, arrays["t10k-labels-idx1-ubyte"])


def test_torchvision_raw_layout_and_dotted_names(tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    make_set(raw)
    for p in raw.iterdir():  # train-images-idx3-ubyte.gz -> train-images.idx3-ubyte.gz
        p.rename(p.with_name(p.name.replace("-idx", ".idx")))
    assert find_mnist_files(tmp_path) is not None
    assert len(load_arrays(tmp_path).train_labels) == 50


def test_missing_files_say_what_is_needed(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"No MNIST files in .*t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path, fetch=False)


def test_truncated_file_is_named(tmp_path: Path) -> None:
    make_set(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte is truncated"):
        load_arrays(tmp_path)


def test_wrong_magic_is_named(tmp_path: Path) -> None:
    make_set(tmp_path, gz=False)
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    images = tmp_path / "t10k-images-idx3-ubyte"
    images.write_bytes(labels.read_bytes())  # a labels file where the images should be
    with pytest.raises(DatasetError, match=rf"t10k-images-idx3-ubyte has the wrong magic number "
                                           rf"{LABEL_MAGIC} \(expected {IMAGE_MAGIC}"):
        load_arrays(tmp_path)


def test_damaged_gzip_and_empty_file(tmp_path: Path) -> None:
    make_set(tmp_path)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(DatasetError, match=r"train-labels-idx1-ubyte\.gz is a damaged gzip"):
        load_arrays(tmp_path)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(DatasetError, match="too short"):
        read_idx(empty)


def test_inconsistent_counts_and_bad_labels(tmp_path: Path) -> None:
    make_set(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(19, np.uint8))
    with pytest.raises(DatasetError, match=r"20 images but .* 19 labels"):
        load_arrays(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.full(20, 12, np.uint8))
    with pytest.raises(DatasetError, match="label 12"):
        load_arrays(tmp_path)


def test_real_mnist(mnist) -> None:
    assert mnist.train_images.shape == (60000, 28, 28)
    assert mnist.test_images.shape == (10000, 28, 28)
    assert abs(mnist.train_images.mean() / 255 - 0.1307) < 1e-3
    assert abs(mnist.train_images.std() / 255 - 0.3081) < 1e-3
    assert sorted(np.unique(mnist.test_labels)) == list(range(10))


def test_validation_split_is_disjoint_and_reproducible(mnist) -> None:
    small = mnist.subset(train=1000)
    a, b = small.with_validation(100, seed=3), small.with_validation(100, seed=3)
    assert len(a.train_labels) == 900 and len(a.val_labels) == 100
    np.testing.assert_array_equal(a.val_images, b.val_images)
    train_rows = {img.tobytes() for img in a.train_images}
    assert not any(img.tobytes() in train_rows for img in a.val_images)
    np.testing.assert_array_equal(a.test_images, small.test_images)  # test set untouched
    with pytest.raises(DatasetError, match="impossible"):
        small.with_validation(1000)


def _file_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local 'mirror' served over file:// with torchvision's file names and our own MD5s."""
    from torchvision.datasets import MNIST

    mirror = tmp_path / "mirror"
    make_set(mirror, gz=False)
    resources = []
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        blob = gzip.compress((mirror / stem).read_bytes())
        (mirror / (stem + ".gz")).write_bytes(blob)
        resources.append((stem + ".gz", hashlib.md5(blob).hexdigest()))
    monkeypatch.setattr(MNIST, "resources", resources)
    monkeypatch.setattr(MNIST, "mirrors", ["file:///nonexistent-mirror/", mirror.as_uri() + "/"])
    return mirror


def test_fetch_downloads_checks_and_reports_progress(tmp_path, monkeypatch) -> None:
    _file_mirror(tmp_path, monkeypatch)
    seen: list[tuple[str, int, int]] = []
    target = tmp_path / "data"
    data = load_mnist(target, progress=lambda *a: seen.append(a))
    assert len(data.train_labels) == 50
    assert (target / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file()
    assert {what for what, _, _ in seen} >= {"train-images-idx3-ubyte.gz"}
    assert not list((target / "MNIST" / "raw").glob(".*"))  # no temporary files left behind


def test_fetch_rejects_a_corrupt_download(tmp_path, monkeypatch) -> None:
    from torchvision.datasets import MNIST

    _file_mirror(tmp_path, monkeypatch)
    monkeypatch.setattr(MNIST, "resources", [("train-images-idx3-ubyte.gz", "0" * 32)])
    with pytest.raises(DatasetError, match=r"Could not download train-images-idx3-ubyte\.gz"):
        fetch_mnist(tmp_path / "data")
    assert not (tmp_path / "data" / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").exists()
