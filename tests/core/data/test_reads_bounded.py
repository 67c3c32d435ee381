"""Every read is bounded before it starts (issue 23.1): core.fileio's checks, and the readers
that go through them (MNIST's IDX files, checkpoints)."""

from __future__ import annotations

import os
import threading
import time
import zlib
from pathlib import Path

import pytest

from core.data.mnist import MAX_IDX_BYTES, SPLITS, load_arrays
from core.errors import DatasetError
from core.fileio import check_regular_file, read_untrusted


def test_read_untrusted_refuses_what_is_not_a_bounded_plain_file(tmp_path: Path) -> None:
    (tmp_path / "ok").write_bytes(b"12345")
    assert read_untrusted(tmp_path / "ok", 5) == b"12345"
    (tmp_path / "link").symlink_to(tmp_path / "ok")
    os.mkfifo(tmp_path / "fifo")
    cases = {tmp_path / "fifo": "is a FIFO", Path("/dev/zero"): "is a device",
             tmp_path: "is a folder", tmp_path / "link": "is a link",
             tmp_path / "ok": "more than the 4"}
    for path, needle in cases.items():
        started = time.monotonic()
        with pytest.raises(OSError, match=needle):
            read_untrusted(path, 4)
        with pytest.raises(OSError, match=needle):
            check_regular_file(path, 4)
        assert time.monotonic() - started < 1
    # A file the user named may be a link: what it points to is checked instead.
    assert read_untrusted(tmp_path / "link", 5, follow_links=True) == b"12345"
    (tmp_path / "to-fifo").symlink_to(tmp_path / "fifo")
    with pytest.raises(OSError, match="is a FIFO"):
        read_untrusted(tmp_path / "to-fifo", 5, follow_links=True)


def _mnist_folder(tmp_path: Path, mnist_dir: Path, replace: str, make) -> Path:
    folder = tmp_path / "mnist"
    folder.mkdir()
    for key, stem in SPLITS.items():
        target = folder / f"{stem}.gz"
        if key == replace:
            make(target)
        else:
            target.symlink_to(Path(mnist_dir) / f"{stem}.gz")  # a data folder of links is fine
    return folder


def _load_within(folder: Path, seconds: float) -> BaseException | None:
    caught: list[BaseException] = []

    def load() -> None:
        try:
            load_arrays(folder)
        except BaseException as e:  # handed back to the test
            caught.append(e)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "loading did not end"
    return caught[0] if caught else None


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    """The IDX limit at 4 MB (MNIST's labels are 60 KB), so a bomb past it is cheap to make."""
    limit = 4 * 2**20
    monkeypatch.setattr("core.data.mnist.MAX_IDX_BYTES", limit)
    assert limit < MAX_IDX_BYTES
    return limit


def test_a_gzip_bomb_stops_at_the_limit(tmp_path: Path, mnist_dir: Path,
                                        small_limit: int) -> None:
    def bomb(path: Path) -> None:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
        with open(path, "wb") as f:
            f.write(packer.compress(b"\0" * (small_limit + 2**20)) + packer.flush())

    error = _load_within(_mnist_folder(tmp_path, mnist_dir, "train_images", bomb), 120)
    assert isinstance(error, DatasetError) and "unpacks to more than 4 MB" in str(error)


def test_an_oversized_data_file_is_refused_unread(tmp_path: Path, mnist_dir: Path,
                                                  small_limit: int) -> None:
    def huge(path: Path) -> None:
        with open(path, "wb") as f:
            f.truncate(small_limit + 1)  # sparse: nothing is written, nothing may be read

    error = _load_within(_mnist_folder(tmp_path, mnist_dir, "train_images", huge), 60)
    assert isinstance(error, DatasetError) and "more than the 4,194,304" in str(error)


def test_an_oversized_checkpoint_is_refused_unread(tmp_path: Path) -> None:
    from core.errors import ModelFileError
    from core.training.checkpoints import MAX_CHECKPOINT_BYTES, load_checkpoint

    with open(tmp_path / "best.pt", "wb") as f:
        f.truncate(MAX_CHECKPOINT_BYTES + 1)  # sparse: torch.load would read all of it
    started = time.monotonic()
    with pytest.raises(ModelFileError, match="more than the 1,073,741,824"):
        load_checkpoint(tmp_path / "best.pt")
    assert time.monotonic() - started < 5
