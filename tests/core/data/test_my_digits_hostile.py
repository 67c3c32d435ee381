"""My digits when its folder holds hostile things (issue 23.1, 23.3): links are never followed,
written or deleted through, nothing but regular files is opened, and every file left out of a
score is named with the reason."""

from __future__ import annotations

import os
import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.my_digits import MyDigits, labelled_pngs
from core.errors import ImageError


def digit(value: int = 200) -> np.ndarray:
    image = np.zeros((28, 28), np.uint8)
    image[6:22, 12:16] = value
    return image


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG declaring width × height grey pixels with a tiny data stream: a decompression
    bomb's header (nothing is decoded before the size is checked)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))
    return path


class Constant:
    """A predictor that always answers 1."""

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        out = np.zeros((len(images), 10), np.float32)
        out[:, 1] = 1.0
        return out


def test_remove_last_never_deletes_through_a_linked_label_folder(tmp_path: Path) -> None:
    store = MyDigits(tmp_path / "my_digits")
    store.add(digit(), 3)
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "29991231T235959-999999.png"  # would sort as the newest digit
    Image.fromarray(digit()).save(victim)
    (store.root / "7").symlink_to(outside, target_is_directory=True)

    entries, skipped = store.scan()
    assert [e.label for e in entries] == [3]
    assert skipped == ["7: the label folder is a link; DigitLab does not follow it (remove the "
                       "link)"]
    removed = store.remove(-1)
    assert removed.label == 3 and victim.is_file()
    with pytest.raises(ImageError, match="does not write through links"):
        store.add(digit(), 7)
    assert sorted(p.name for p in outside.iterdir()) == [victim.name]
    store.clear()
    assert victim.is_file() and not (store.root / "7").exists()


def test_a_linked_my_digits_folder_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "2").mkdir(parents=True)
    Image.fromarray(digit()).save(outside / "2" / "a.png")
    (tmp_path / "my_digits").symlink_to(outside, target_is_directory=True)
    store = MyDigits(tmp_path / "my_digits")
    assert store.entries() == [] and "is a link" in store.scan()[1][0]
    store.clear()
    with pytest.raises(ImageError, match="link"):
        store.add(digit(), 2)
    assert (outside / "2" / "a.png").is_file() and len(list((outside / "2").iterdir())) == 1


def test_special_files_links_and_bombs_are_skipped_and_named(tmp_path: Path) -> None:
    store = MyDigits(tmp_path / "my_digits")
    for label in range(3):
        store.add(digit(), label)
    four = store.root / "4"
    four.mkdir()
    os.mkfifo(four / "fifo.png")  # opening it would block for ever
    (four / "link.png").symlink_to(store.entries()[0].path)
    png_header_only(four / "bomb.png", 100_000, 100_000)  # PIL's own bomb limit
    png_header_only(four / "large.png", 5000, 5000)
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(four / "size.png")
    (four / "huge.png").write_bytes(b"\x89PNG" + b"\0" * (2 * 2**20))
    (four / "text.png").write_text("not an image")

    result: dict[str, object] = {}
    worker = threading.Thread(target=lambda: result.update(score=store.score_classifier(
        Constant())), daemon=True)
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), "scoring blocked on the FIFO"
    score = result["score"]
    assert score.n == 3 and score.correct == 1  # the three real digits, nothing else
    notes = dict(note.split(": ", 1) for note in score.skipped)
    assert notes["4/fifo.png"] == "a FIFO or device, not an image file"
    assert notes["4/link.png"] == "a link; DigitLab does not follow it"
    assert "decompression bomb" in notes["4/bomb.png"]
    assert notes["4/large.png"] == "5000×5000 pixels is too large for a digit"
    assert notes["4/size.png"] == "40×40, not 28×28"
    assert "more than the 1,048,576" in notes["4/huge.png"]
    assert notes["4/text.png"] == "not a readable image"
    assert len(score.skipped) == 7


def test_labelled_folders_name_what_they_skip(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    (folder / "5").mkdir(parents=True)
    Image.fromarray(digit()).save(folder / "5" / "good.png")
    os.mkfifo(folder / "5" / "pipe.png")
    png_header_only(folder / "3_bomb.png", 100_000, 100_000)
    (folder / "7_link.png").symlink_to(folder / "5" / "good.png")
    images, labels, skipped = labelled_pngs(folder)
    assert labels.tolist() == [5] and images.shape == (1, 28, 28)
    notes = dict(note.split(": ", 1) for note in skipped)
    assert notes["5/pipe.png"] == "a FIFO or device, not an image file"
    assert notes["7_link.png"] == "a link; DigitLab does not follow it"
    assert "decompression bomb" in notes["3_bomb.png"]


def test_scoring_a_run_names_the_files_it_skips(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from core.models import build_model
    from core.runs.store import RunStore
    from core.training.checkpoints import save_checkpoint
    from core.training.config import TrainConfig
    from core.workflows.my_digits import score_run
    from tests.core.data.test_my_digits import checkpoint_of

    torch.manual_seed(0)
    config = TrainConfig(model="dl-tiny-1k").to_dict()
    model = build_model("dl-tiny-1k").eval()
    run = RunStore().create(config)
    save_checkpoint(run.checkpoint_path("best"), checkpoint_of(model, config))
    store = MyDigits(tmp_path / "my_digits")
    store.add(digit(), 1)
    os.mkfifo(store.root / "1" / "pipe.png")
    png_header_only(store.root / "1" / "bomb.png", 100_000, 100_000)
    score = score_run(run, store, "best", record=False)
    assert score.n == 1 and len(score.skipped) == 2
    assert any(note.startswith("1/pipe.png: a FIFO") for note in score.skipped)
    assert any("decompression bomb" in note for note in score.skipped)
