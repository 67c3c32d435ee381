"""Issue 23 through the CLI, as a hostile or unlucky user: reads bounded before they start,
values checked where they enter (combinations too), limits that fail fast with their range,
damaged experiment files as one line, exit status 2 for what the user can act on."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from core.experiments.spec import ExperimentSpec
from core.experiments.storage import ExperimentStore
from tests.core.cli.test_cli import cli


def one_line_refusal(*args: str, needle: str, within_s: float = 60) -> str:
    start = time.monotonic()
    out = cli(*args, check=False, timeout=within_s)
    assert out.returncode == 2, (args, out.stdout, out.stderr)
    assert needle in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert time.monotonic() - start < within_s
    return out.stderr


@pytest.mark.parametrize(("make", "needle"), [
    (lambda p: Path("/dev/zero"), "is a device"),
    (lambda p: (os.mkfifo(p / "fifo"), p / "fifo")[1], "is a FIFO"),
    (lambda p: p, "is a folder"),
    (lambda p: (p / "big.toml").write_bytes(b"#" * (3 * 2**20)) and p / "big.toml",
     "more than"),
    (lambda p: (p / "bin.toml").write_bytes(b"\xff\xfe name") and p / "bin.toml", "not UTF-8"),
])
def test_experiment_file_is_checked_before_it_is_read(tmp_path: Path, make, needle: str) -> None:
    # /dev/zero grew memory by 800 MB/s, a FIFO blocked forever: both refused in one line.
    one_line_refusal("experiment", "run", "--file", str(make(tmp_path)), needle=needle,
                     within_s=30)


def test_a_linked_definition_file_the_user_names_is_read(tmp_path: Path) -> None:
    real = tmp_path / "real.toml"
    real.write_text('name = "linked"\nmodel = "nope-model"\n')
    (tmp_path / "link.toml").symlink_to(real)
    one_line_refusal("experiment", "run", "--file", str(tmp_path / "link.toml"),
                     needle="Unknown model")


@pytest.mark.parametrize(("toml", "needle"), [
    ("[base]\nepochs = 1e400\n", "epochs = inf is not an int"),
    ("[base]\nlr = nan\n", "lr = nan is not a float (a finite number)"),
    ("[base]\nlr = inf\n", "is not a float"),
    ("[base]\nmodel = {a = 1}\n", "model = {'a': 1} is not a str"),
    ("seeds = [1e400]\n", "seeds must be whole numbers, not inf"),
    ("seeds = [true]\n", "seeds must be whole numbers, not True"),
    ("seeds = [1.5]\n", "seeds must be whole numbers, not 1.5"),
    ("seeds = 3\n", "seeds must be a list"),
    ("asha = 5\n", "asha must be a table"),
    ("variants = 3\n", "variants must be a table"),
    ("writeup_recipe = \"yes\"\n", "writeup_recipe must be true or false"),
    ("[search]\nkind = \"random\"\nn_trials = 1e400\n", "search.n_trials must be whole"),
    ("[search]\nkind = \"random\"\nn_trials = 1000000000\n[search.space]\n"
     "lr = {low = 0.01, high = 0.1}\n", "n_trials from 1 to 1,000"),
    ("[search]\nkind = \"random\"\nn_trials = 2\n[search.space]\n"
     "lr = {low = 0.01, high = inf}\n", "finite ends"),
    ("description = \"" + "d" * 5000 + "\"\n", "at most 1,000"),
])
def test_definition_values_are_refused_in_one_line_and_leave_no_folder(
        tmp_path: Path, digitlab_home: Path, toml: str, needle: str) -> None:
    path = tmp_path / "e.toml"
    path.write_text('name = "bad"\nmodel = "dl-tiny-1k"\n' + toml)
    one_line_refusal("experiment", "run", "--file", str(path), needle=needle)
    assert not (digitlab_home / "experiments" / "bad").exists()


def test_a_definition_refused_after_saving_leaves_no_folder(digitlab_home: Path) -> None:
    # epochs=0 passes the definition's own checks but not the trainer's: refused before any
    # trial runs, and the name stays free (it blocked the name before).
    one_line_refusal("experiment", "run", "e0", "--model", "dl-tiny-1k", "--set", "epochs=0",
                     needle="epochs must be between 1 and")
    assert not (digitlab_home / "experiments" / "e0").exists()
    assert ExperimentStore().names() == []


@pytest.mark.parametrize(("flags", "needle"), [
    (["--parallel", "0"], "--parallel 0 is out of range: run 1 to"),
    (["--parallel", "-3"], "--parallel -3 is out of range"),
    (["--threads", "1000"], "--threads 1000 is out of range"),
    (["--seeds", *map(str, range(1000))], "Give 1 to 100 seeds (got 1,000)"),
    (["--seeds", str(2**40)], "seeds must be whole numbers from 0 to"),
    (["--search", "random", "--range", "lr=0.01:0.1", "--val-split", "100",
      "--n-trials", "1000000000"], "n_trials from 1 to 1,000"),
    (["--grid", "lr=" + ",".join(f"0.0{i}" for i in range(1, 10)),
      "--grid", "momentum=" + ",".join(f"0.{i}" for i in range(1, 10)),
      "--grid", "epochs=" + ",".join(map(str, range(1, 100)))], "at most 5,000 are allowed"),
    (["--description", "x" * 5000], "keep it to at most 1,000"),
    (["--ray", "local", "--cpus-per-trial", "100000"], "--cpus-per-trial 100000 is out of"),
    (["--ray", "127.0.0.1:1"], "Nothing answers at 127.0.0.1:1"),
    (["--ray", "somewhere:notaport"], "is not an address"),
])
def test_limits_fail_fast_with_the_allowed_range(digitlab_home: Path, flags: list[str],
                                                 needle: str) -> None:
    one_line_refusal("experiment", "run", "lim", "--model", "dl-tiny-1k", *flags,
                     needle=needle, within_s=40)
    assert not (digitlab_home / "experiments" / "lim").exists()


@pytest.mark.parametrize(("flags", "needle"), [
    (["--resume", ""], "--resume needs a run id"),
    (["--resume", "  "], "--resume needs a run id"),
    (["--resume", "X", "--time-budget", "30"], "--time-budget cannot change them"),
    (["--resume", "X", "--epochs", "3", "--name", "n"], "--epochs, --name cannot change"),
])
def test_train_resume_refuses_what_it_would_ignore(flags: list[str], needle: str) -> None:
    # `--resume ''` started a new 15-epoch run; a budget given with --resume was ignored.
    one_line_refusal("train", *flags, needle=needle)


def _experiment_with_points(points: object) -> None:
    store = ExperimentStore()
    store.save(ExperimentSpec(name="dmg", model="dl-tiny-1k"))
    (store.folder("dmg") / "points.json").write_text(json.dumps(points))


@pytest.mark.parametrize("points", [
    {"index": 0}, [1, 2], [{"index": "a", "values": {}}], [{"index": 0, "values": [1]}],
    [{"index": 0, "values": {"lr": "fast"}}], [{"index": 3, "values": {}}], "text", None,
    [{"index": 0, "values": {"nope": 1}}],
])
def test_a_damaged_points_file_is_one_line_in_status_report_and_run(points: object) -> None:
    _experiment_with_points(points)
    for command in ("status", "report", "run"):
        err = one_line_refusal("experiment", command, "dmg", needle="Experiment 'dmg' is "
                                                                    "damaged")
        assert "experiment delete dmg" in err
    listing = cli("experiment", "list").stdout
    assert "dmg" in listing and "unreadable" in listing


def test_a_damaged_sessions_file_does_not_stop_the_report() -> None:
    store = ExperimentStore()
    store.save(ExperimentSpec(name="ses", model="dl-tiny-1k"))
    (store.folder("ses") / "sessions.json").write_text(json.dumps(
        [1, {"wall_s": "x"}, {"wall_s": float("1e308") * 10}, {"wall_s": 2.0, "trials_run": 1,
                                                              "executor": "local"}]))
    out = cli("experiment", "report", "ses")
    assert "over 1 session (" in out.stdout


def test_a_folder_without_definition_is_listed_damaged_and_deletable(digitlab_home: Path) -> None:
    folder = digitlab_home / "experiments" / "half"
    folder.mkdir(parents=True)
    assert "half" in cli("experiment", "list").stdout
    one_line_refusal("experiment", "status", "half", needle="has no experiment.toml")
    assert "Deleted experiment half" in cli("experiment", "delete", "half").stdout


def test_failed_trials_exit_2_with_one_line_naming_the_reason(tmp_path: Path) -> None:
    # A trial that fails (here: no MNIST and no network; a full disk alike) is a clean failure
    # the user can act on: exit 2, not 1, and one line on stderr says which and why.
    (tmp_path / "empty").mkdir()
    out = cli("experiment", "run", "fails", "--model", "dl-tiny-1k", "--set", "compile=false",
              "--set", "device=cpu", "--data", str(tmp_path / "empty"), check=False,
              env={"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"})
    assert out.returncode == 2, out.stdout + out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("digitlab-cli: error")]
    assert len(errors) == 1 and "1 of 1 trial failed (first, p000-s0: Could not download" \
        in errors[0] and "--retry-failed" in errors[0]


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_predict_checks_an_image_before_reading_it(tmp_path: Path, kind: str) -> None:
    from core.paths import bundled_model_path

    if not bundled_model_path().is_file():
        pytest.skip("the bundled model is not in this checkout")
    image = Path("/dev/zero") if kind == "device" else tmp_path / "pipe.png"
    if kind == "fifo":
        os.mkfifo(image)
    out = cli("predict", str(bundled_model_path()), str(image), check=False, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert ("is a device" if kind == "device" else "is a FIFO") in out.stderr
