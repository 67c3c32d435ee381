"""`digitlab-cli handwriting`: real pen writers first, per path, digit and writer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from core.data.pendigits import VALIDATION_WRITERS
from core.paths import bundled_model_path


def test_real_writers_per_path_digit_and_writer(capsys: pytest.CaptureFixture[str], mnist_dir,
                                                pen_digits) -> None:
    code = main(["handwriting", str(bundled_model_path()), "--n", "20", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    real = out["real_writers"]
    assert real["n"] == len(pen_digits.of_writers(VALIDATION_WRITERS))
    assert set(real["accuracy"]) == {"strokes", "pixels"}
    assert [int(w) for w in real["per_writer"]["strokes"]] == list(VALIDATION_WRITERS)
    assert sorted(int(d) for d in real["per_digit"]["pixels"]) == list(range(10))
    # A model that reads MNIST at 99.6% reads real writers far above chance, below perfection.
    assert 90 < real["accuracy"]["strokes"] < 100 and 0 < real["agreement"] <= 100


def test_without_the_pen_digits_it_says_so_in_one_line(capsys: pytest.CaptureFixture[str],
                                                       mnist_dir, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIGITLAB_PENDIGITS", raising=False)
    code = main(["handwriting", str(bundled_model_path()), "--n", "10"])
    out = capsys.readouterr().out
    assert code == 0 and "real pen writers: not measured (" in out and "DIGITLAB_PENDIGITS" in out
    # Asked for by name, a missing folder is the user's error: one line, status 2.
    code = main(["handwriting", str(bundled_model_path()), "--pen-digits", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "pendigits" in err
