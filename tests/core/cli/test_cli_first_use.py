"""The CLI rough edges a newcomer hit (issue 13.7): run names, predict's model, train's help."""

from __future__ import annotations

import shutil
from pathlib import Path

from core.paths import resources_dir
from core.runs.store import RunStore
from core.training.metrics import EpochMetrics
from tests.core.cli.test_cli import cli


def _fake_run(store: RunStore, name: str, acc: float):  # type: ignore[no-untyped-def]
    run = store.create({"model": "dl-tiny-1k", "epochs": 2}, params=996, receptive_field=18,
                       env={"device": "cpu"}, name=name)
    run.record.history = [EpochMetrics(epoch=1, train_loss=0.5, train_acc=acc, test_loss=0.4,
                                       test_acc=acc, val_loss=None, val_acc=None, lr=0.01,
                                       seconds=1.0, samples_per_s=100.0).to_dict()]
    run.record.epochs_done, run.record.status = 1, "stopped"
    run.save_record()
    return run


def test_runs_names_every_run_and_sizes_columns_to_content(digitlab_home: Path) -> None:
    store = RunStore()
    unnamed = _fake_run(store, "", 97.5)
    named = _fake_run(store, "a much longer run name\x1b[31m", 98.25)
    lines = cli("runs").stdout.splitlines()
    header, rule, rows = lines[0], lines[1], lines[2:]
    name_at = header.index("name")
    model_at = header.index("model")
    by_id = {row.split()[0]: row for row in rows}
    # The name column holds the name, or a dash for a run never named (its name is its id).
    assert by_id[unnamed.id][name_at:model_at].strip() == "–"
    assert by_id[named.id][name_at:].startswith("a much longer run name ")
    assert "\x1b" not in "\n".join(lines)  # control characters from run.json never reach a tty
    # Every column starts where its header starts and is as wide as its widest cell.
    assert all(row[model_at:].startswith("dl-tiny-1k") for row in rows)
    widths = [len(dashes) for dashes in rule.split("  ")]
    assert widths[0] == max(len(unnamed.id), len(named.id)) == name_at - 2
    assert widths[1] == max(len(row[name_at:model_at].rstrip()) for row in rows) == \
        model_at - name_at - 2


def test_predict_uses_the_bundled_model_when_none_is_given(tmp_path: Path) -> None:
    image = tmp_path / "my7.png"
    shutil.copy(resources_dir() / "samples" / "drawn_7.png", image)
    alone = cli("predict", str(image)).stdout
    assert alone.startswith(f"{image}: 7  (7 ")
    with_model = cli("predict", str(resources_dir() / "models" / "default.onnx"), str(image))
    assert with_model.stdout == alone  # the bundled model is the default: same answer
    flagged = cli("predict", "--model", str(resources_dir() / "models" / "default.onnx"),
                  str(image)).stdout
    assert flagged == alone
    proc = cli("predict", str(resources_dir() / "models" / "default.onnx"), check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "No image to classify" in proc.stderr


def test_train_help_shows_the_settings_that_apply() -> None:
    from core.models import get_spec
    from core.training.config import TrainConfig

    recipe = get_spec(TrainConfig.model).recipe
    text = " ".join(cli("train", "--help").stdout.split())  # argparse wraps lines anywhere
    for key in ("optimizer", "lr", "weight_decay", "augment", "label_smoothing"):
        flag = "--" + key.replace("_", "-")
        value = recipe[key]
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        at = text.index(f"{flag} {key.upper()} (default: ")
        help_of_flag = text[at: text.index(")", at)]
        assert shown in help_of_flag, (flag, help_of_flag)
        assert f"{TrainConfig.model}'s recipe" in text[at: at + 200]
    assert "(default: sgd" not in text and "(default: 0.05)" not in text
    assert "that model's recipe applies instead" in text
