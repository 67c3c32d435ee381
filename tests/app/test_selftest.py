"""`digitlab --self-test` in a real subprocess, as a user (or the packaged build) runs it."""

from __future__ import annotations

import os
import subprocess
import sys

from app.selftest import SelfTest
from tests.conftest import REPO


def test_self_test_passes_and_says_what_it_checked(mnist_dir, digitlab_home) -> None:
    proc = subprocess.run([sys.executable, "-m", "app", "--self-test"], cwd=REPO, text=True,
                          capture_output=True, timeout=300,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    for needle in ("[PASS] main window", "[PASS] bundled model",
                   "[PASS] drawn digits through the Draw tab", "[PASS] training steps",
                   "4 passed, 0 failed"):
        assert needle in out, out
    assert not (digitlab_home / "runs").exists()  # the user's data was not touched


def test_a_failing_check_is_named_and_does_not_stop_the_rest(capsys) -> None:
    test = SelfTest()

    def broken() -> str:
        raise RuntimeError("model read 3 for a 7")

    assert not test.check("drawn digits", broken)
    assert test.check("next", lambda: "fine")
    out = capsys.readouterr().out
    assert "[FAIL] drawn digits: RuntimeError: model read 3 for a 7" in out
    assert "[PASS] next: fine" in out
