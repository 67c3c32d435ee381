"""`digitlab-cli finetune` and `digitlab-cli handwriting` (both proxies), run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli.main import main
from core.data.my_digits import MyDigits
from core.onnx_io.classifier import DigitClassifier
from core.paths import bundled_model_path
from tests.core.training.test_finetune import hand


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def labelled_dir(tmp_path: Path) -> Path:
    """Five drawings of every digit in My digits' layout (subfolders 0-9)."""
    store = MyDigits(tmp_path / "mine")
    for image, label in zip(*hand(5), strict=True):
        store.add(image, int(label))
    return store.root


def test_user_errors_are_one_line(capsys, tmp_path: Path, labelled_dir: Path) -> None:
    for args, needle in [
        (("finetune", "bundled", "--images", str(tmp_path / "nowhere"), "-o", "p.onnx"),
         "is not a folder"),
        (("finetune", "bundled", "--images", str(labelled_dir), "-o", "p.txt"),
         "does not end in .onnx"),
        (("finetune", "no-such-run", "--images", str(labelled_dir), "-o",
          str(tmp_path / "p.onnx")), "No run 'no-such-run'"),
        (("finetune", "bundled", "--images", str(labelled_dir / "3"), "-o",
          str(tmp_path / "p.onnx")), "at least 3 drawings of each digit"),
    ]:
        code, _, err = run_cli(capsys, *args)
        assert code == 2, (args, err)
        lines = err.strip().splitlines()
        assert needle in lines[-1] and "Traceback" not in err, (args, err)
    assert not (tmp_path / "p.onnx").exists()


def test_finetune_a_run_from_a_folder(capsys, mnist_dir: Path, tmp_path: Path,
                                      labelled_dir: Path) -> None:
    import torch

    from core.models import build_model
    from core.runs.store import RunStore
    from core.training.checkpoints import save_checkpoint
    from core.training.config import TrainConfig
    from tests.core.data.test_my_digits import checkpoint_of

    torch.manual_seed(0)
    config = TrainConfig(model="dl-tiny-1k").to_dict()
    run = RunStore().create(config, name="tiny-base")
    save_checkpoint(run.checkpoint_path("last"), checkpoint_of(build_model("dl-tiny-1k"), config))
    out_file = tmp_path / "personal.onnx"
    code, out, err = run_cli(capsys, "finetune", "tiny-base", "--images", str(labelled_dir),
                             "-o", str(out_file), "--steps", "10", "--data", str(mnist_dir))
    assert code == 0, err
    assert "Personal model written to" in out and "held-back digits (10)" in out
    assert "Fine-tuning: step 10/10" in err  # progress goes to stderr
    assert DigitClassifier(out_file).metadata["digitlab.base"] == run.id


def test_handwriting_reports_both_proxies(capsys, mnist_dir: Path) -> None:
    model = str(bundled_model_path())
    code, out, err = run_cli(capsys, "handwriting", model, "--n", "20", "--data",
                             str(mnist_dir), "--proxies", "--no-real")
    assert code == 0, err
    assert "synthetic writers" in out and "strokes" in out and "pixels" in out
    assert "mean over styles" in out and "Spearman" in out  # both, with their caveat
    code, out, err = run_cli(capsys, "handwriting", model, "--n", "20", "--data",
                             str(mnist_dir), "--json", "--no-real")
    report = json.loads(out)
    assert "pen_writers" not in report and "n" not in report  # opt-in only
