"""digitlab-cli against a hostile or unlucky user, in real subprocesses: damaged runs, two
trainings of one run, Ctrl+C and kill -9, full disks, runaway models, bad images, bad values.
Every failure is one line on stderr, no traceback, and exit status 2 (130 after Ctrl+C)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from core.paths import resources_dir
from tests.conftest import REPO
from tests.support import hostile_onnx as h
from tests.support.full_disk import full_disk

QUICK = ["--model", "dl-tiny-1k", "--device", "cpu", "--train-subset", "600", "--test-subset",
         "200", "--batch-size", "50", "--lr", "0.1", "--no-compile", "-q"]
ESC = "\x1b"


def cli(*args: str, env: dict[str, str] | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "core.cli", *args], cwd=REPO, text=True,
                          capture_output=True, env={**os.environ, **(env or {})},
                          timeout=timeout)


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """The CLI as a terminal starts it: Ctrl+C (SIGINT) reaches it even when the test session
    itself was started in the background, where the shell leaves SIGINT ignored (inherited)."""
    return subprocess.Popen([sys.executable, "-m", "core.cli", *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})}, preexec_fn=_deliver_ctrl_c)


def _deliver_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Python then installs its KeyboardInterrupt


def one_line_error(proc: subprocess.CompletedProcess[str], needle: str = "",
                   status: int = 2) -> str:
    assert proc.returncode == status, (proc.returncode, proc.stdout, proc.stderr)
    # Progress lines ("Loading MNIST…") may come first; the error is one line, the last.
    errors = [line for line in proc.stderr.splitlines() if line.startswith("digitlab-cli:")]
    assert "Traceback" not in proc.stderr and len(errors) == 1, proc.stderr
    err = proc.stderr.strip().splitlines()[-1]
    assert err == errors[0] and needle.lower() in err.lower(), proc.stderr
    assert ESC not in proc.stdout + proc.stderr
    return err


def wait_for(predicate, timeout: float = 300.0) -> None:  # type: ignore[no-untyped-def]
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def record(home: Path, run_id: str) -> dict:
    return json.loads((home / "runs" / run_id / "run.json").read_text())


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Path:
    """A user-data folder holding one small run trained for 2 epochs (made once)."""
    home = tmp_path_factory.mktemp("trained-home")
    proc = cli("train", *QUICK, "--epochs", "2", "--name", "healthy",
               env={"DIGITLAB_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    return home


@pytest.fixture
def home(trained: Path, digitlab_home: Path) -> Path:
    shutil.copytree(trained, digitlab_home, dirs_exist_ok=True)
    return digitlab_home


def healthy_id(home: Path) -> str:
    return next(d.name for d in (home / "runs").iterdir()
                if d.is_dir() and record(home, d.name).get("name") == "healthy")


# --- 1, 2, 6: identity, damaged runs, text from files ------------------------------------------

def test_damaged_and_hostile_runs_never_take_the_others_down(home: Path) -> None:
    runs = home / "runs"
    good = healthy_id(home)
    base = record(home, good)
    hostile = {"evil-id": {**base, "id": "../../..", "name": f"{ESC}[31mred{ESC}]0;pwned\x07"},
               "wrong-types": {**base, "history": "x", "pid": "12", "epochs_done": "2"},
               "truncated": None}
    for folder, content in hostile.items():
        (runs / folder).mkdir()
        text = json.dumps(content) if content else json.dumps(base)[:50]
        (runs / folder / "run.json").write_text(text)
        os.utime(runs / folder, (1_000_000_000, 1_000_000_000))
    listing = cli("runs")
    assert listing.returncode == 0 and ESC not in listing.stdout, listing.stderr
    assert "healthy" in listing.stdout and "evil-id" in listing.stdout
    assert listing.stdout.count("damaged run") == 2  # wrong types and truncated, with reasons
    assert "'epochs_done'" in listing.stdout and "not valid JSON" in listing.stdout
    report = cli("report")
    assert report.returncode == 0 and "| healthy |" in report.stdout and ESC not in report.stdout
    assert "damaged run truncated" in report.stderr
    evaluated = cli("eval", good, "--json")
    assert evaluated.returncode == 0 and json.loads(evaluated.stdout)["run"] == good
    one_line_error(cli("eval", "wrong-types"), "damaged")
    assert cli("delete", "wrong-types", "truncated", "evil-id").returncode == 0
    assert sorted(p.name for p in runs.iterdir()) == [good] and home.parent.is_dir()


def test_damaged_checkpoints_give_one_line(home: Path) -> None:
    import torch

    good = healthy_id(home)
    best = home / "runs" / good / "checkpoints" / "best.pt"
    last = best.with_name("last.pt")
    state = torch.load(last, weights_only=True)
    best.write_bytes(b"")
    one_line_error(cli("eval", good, "--checkpoint", "best"), "empty (0 bytes)")
    for broken in ({**state, "config": [1, 2]}, {**state, "epochs_done": "3"},
                   {**state, "model": {"w": "not a tensor"}}, [1, 2, 3]):
        torch.save(broken, best)
        one_line_error(cli("eval", good, "--checkpoint", "best"),
                       "not a usable DigitLab checkpoint")
        one_line_error(cli("export", good, "--checkpoint", "best", "-o", str(home / "m.onnx")),
                       "checkpoint")
    assert cli("eval", good, "--checkpoint", "last", "--json").returncode == 0


# --- 3: locks, kill -9, Ctrl+C -----------------------------------------------------------------

def test_a_run_trained_twice_at_once_is_refused_and_kill_9_frees_it(home: Path) -> None:
    good = healthy_id(home)
    data = record(home, good)
    data["config"]["epochs"], data["status"] = 40, "stopped"  # 38 epochs left: minutes of work
    (home / "runs" / good / "run.json").write_text(json.dumps(data))
    first = start("train", "--resume", good)
    try:
        wait_for(lambda: record(home, good)["status"] == "running")
        second = cli("train", "--resume", good)
        one_line_error(second, "being trained right now")
        one_line_error(cli("delete", good), "still training")
        first.send_signal(signal.SIGKILL)  # no chance to clean up or release anything itself
        first.wait(30)
    finally:
        first.kill()
    listing = cli("runs").stdout
    assert "interrupted" in listing and "running" not in listing
    data = record(home, good)
    data["config"]["epochs"] = data["epochs_done"] + 1  # one more epoch: quick
    (home / "runs" / good / "run.json").write_text(json.dumps(data))
    resumed = cli("train", "--resume", good)
    assert resumed.returncode == 0, resumed.stderr
    assert record(home, good)["status"] == "completed"


def test_ctrl_c_says_how_to_resume_and_resuming_works(digitlab_home: Path, mnist_dir: Path
                                                      ) -> None:
    runs = digitlab_home / "runs"
    proc = start("train", *QUICK, "--epochs", "30", "--name", "hurry")  # not done in 0.5 s
    try:
        # Interrupted as early as possible: right after the run folder exists.
        wait_for(lambda: runs.is_dir() and any(runs.iterdir()))
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in err, err
    line = err.strip().splitlines()[-1]
    assert "digitlab-cli train --resume" in line, err
    command = line.split("`")[1].split()
    resumed = cli(*command[1:])
    assert resumed.returncode == 0, resumed.stderr
    (run_id,) = [p.name for p in runs.iterdir()]
    assert record(digitlab_home, run_id)["status"] == "completed"


# --- 4: full disk ------------------------------------------------------------------------------

def test_full_disk_is_one_line_naming_the_folder(home: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    good = healthy_id(home)
    disk = tmp_path / "disk"
    with full_disk(disk, monkeypatch, size_kb=4096) as (env, fill):
        shutil.copytree(home / "runs", disk / "home" / "runs")
        disk_env = {**env, "DIGITLAB_HOME": str(disk / "home")}
        assert cli("report", "-o", str(disk / "report.md"), env=disk_env).returncode == 0
        before = (disk / "report.md").read_text()
        run_dir = disk / "home" / "runs" / good
        data = json.loads((run_dir / "run.json").read_text())
        data["config"]["epochs"], data["status"] = 4, "stopped"
        (run_dir / "run.json").write_text(json.dumps(data))
        files = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
        fill()
        for args in (["report", "-o", str(disk / "report.md")],
                     ["export", good, "-o", str(disk / "model.onnx")],
                     ["train", "--resume", good],
                     ["train", *QUICK, "--epochs", "1"]):
            one_line_error(cli(*args, env=disk_env), str(disk))
        assert (disk / "report.md").read_text() == before
        for path, content in files.items():
            if path.name != "run.lock":
                assert path.read_bytes() == content, path  # earlier files intact
        assert not list(disk.rglob("*.tmp"))
        listing = cli("runs", env=disk_env)
        assert listing.returncode == 0 and "damaged" not in listing.stdout


# --- 5, 6: untrusted models --------------------------------------------------------------------

@pytest.mark.parametrize("command", ["check", "predict"])
def test_ctrl_c_stops_trying_a_runaway_model(tmp_path: Path, command: str) -> None:
    model = h.loop_model(tmp_path / "loop.onnx")
    image = resources_dir() / "samples" / "drawn_3.png"
    args = [command, str(model)] + ([str(image)] if command == "predict" else [])
    marker = f"digitlab-test-{os.getpid()}-{command}"
    proc = start(*args, env={"DIGITLAB_MODEL_SECONDS": "600", "DIGITLAB_TEST_MARKER": marker})
    try:
        wait_for(lambda: _processes_with(marker) > 1, timeout=120)  # the child trying it runs
        time.sleep(1.0)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert time.monotonic() - t0 < 20
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in err and "interrupted" in err, err
    wait_for(lambda: _processes_with(marker) == 0, timeout=30)  # the child was killed too


def _processes_with(marker: str) -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    count += 1
            except OSError:
                continue
    return count


def test_check_json_is_valid_and_text_is_plain(tmp_path: Path) -> None:
    model = h.gemm_model(tmp_path / "m.onnx", metadata={
        "digitlab.model": f"{ESC}[2J{ESC}]8;;http://evil{ESC}\\click{ESC}]8;;{ESC}\\",
        "digitlab.test_accuracy": "NaN", "note": "line1\nline2\r\x07"})
    text = cli("check", str(model))
    assert text.returncode == 0 and ESC not in text.stdout and "\x07" not in text.stdout
    assert "click" in text.stdout
    data = cli("check", str(model), "--json")
    parsed = json.loads(data.stdout, parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert parsed["param_count"] == 7850 and parsed["under_budget"] is True


# --- 7: images ---------------------------------------------------------------------------------

def png(path: Path, width: int, height: int, *, data: bool = True) -> Path:
    """A grey PNG written row by row (never the whole image in memory), or only its header."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (len(body).to_bytes(4, "big") + kind + body
                + zlib.crc32(kind + body).to_bytes(4, "big"))

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    packer = zlib.compressobj(9)
    idat = b""
    if data:
        row = b"\0" * (width + 1)
        idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    else:
        idat = packer.compress(b"\0" * 1000) + packer.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))
    return path


def test_predict_reads_the_good_images_and_names_each_bad_one(tmp_path: Path) -> None:
    good = [resources_dir() / "samples" / f"drawn_{d}.png" for d in (3, 7)]
    bad = {"1x1": png(tmp_path / "one.png", 1, 1), "1x1000": png(tmp_path / "tall.png", 1, 1000),
           "bomb": png(tmp_path / "bomb.png", 20000, 20000),
           "claims": png(tmp_path / "claims.png", 60000, 60000, data=False),
           "text": tmp_path / "notes.png", "missing": tmp_path / "missing.png"}
    bad["text"].write_text("not an image")
    proc = cli("predict", *map(str, [good[0], *bad.values(), good[1]]))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [str(good[0]), str(good[1])]
    assert lines[0].split()[1] == "3" and lines[1].split()[1] == "7"
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == len(bad) + 1 and "6 of 8 images" in errors[-1]
    for name in ("one.png", "tall.png", "bomb.png", "claims.png"):
        line = next(e for e in errors if name in e)
        assert "8×8 and 8192×8192 pixels" in line, line  # the limit is stated
    as_json = json.loads(cli("predict", str(good[0]), str(bad["bomb"]), "--json").stdout)
    assert as_json[0]["digit"] == 3 and "pixels" in as_json[1]["error"]


# --- 8: values and files -----------------------------------------------------------------------

def test_bad_values_and_files_are_refused_before_any_work(tmp_path: Path, digitlab_home: Path,
                                                          mnist_dir: Path) -> None:
    from core.data.mnist import write_idx

    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(mnist_dir / name, partial / name)
    empty_test = tmp_path / "empty-test"
    empty_test.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        shutil.copy(mnist_dir / name, empty_test / name)
    import numpy as np

    write_idx(empty_test / "t10k-images-idx3-ubyte", np.zeros((0, 28, 28), np.uint8))
    write_idx(empty_test / "t10k-labels-idx1-ubyte", np.zeros((0,), np.uint8))
    cases = [
        (["train", "--seed", str(2**70)], "seed must be between"),
        (["train", "--train-subset", "-5"], "train subset"),
        (["train", "--augment", "1e9"], "augmentation strength"),
        (["train", "--lr", "inf"], "lr must be a finite number"),
        (["train", "--epochs", "0"], "epochs"),
        (["export", "whatever", "-o", str(tmp_path)], "is a folder"),
        (["report", "-o", str(tmp_path)], "is a folder"),
        (["train", "--data", str(partial), *QUICK], "train-images-idx3-ubyte"),
        (["train", "--data", str(empty_test), *QUICK], "0 images"),
    ]
    for args, needle in cases:
        t0 = time.monotonic()
        err = one_line_error(cli(*args), needle)
        assert time.monotonic() - t0 < 120, (args, err)
        if "partial" in " ".join(args):
            assert "train-labels" not in err  # the missing file is named, not a present one
    assert not (digitlab_home / "runs").exists() or not any((digitlab_home / "runs").iterdir())
