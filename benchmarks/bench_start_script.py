"""Seconds from `./scripts/start.sh` to a visible DigitLab window on a real X server, warm venv.

Starts a private Xvfb, then for each run launches the command in a fresh process and polls
`xdotool search --onlyvisible --name ^DigitLab` every 20 ms; the time is from the launch to the
first poll that finds the window (so up to 20 ms late). For comparison the same is measured for
the installed entry point started directly (`.venv/bin/digitlab`), without start.sh's checks.
The venv must be up to date (run ./scripts/start.sh --version once); a run that installs is
reported as such, not timed as a warm start.

    python benchmarks/bench_start_script.py [--runs 5]

Needs Xvfb and xdotool (apt-get install xvfb xdotool).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from _common import REPO, emit

POLL_S = 0.02


def start_xvfb() -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1280x1024x24",
                               "-nolisten", "tcp"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    number = server.stdout.readline().strip() if server.stdout else ""
    if not number.isdigit():
        raise SystemExit("Xvfb did not start")
    return server, f":{number}"


def seconds_to_window(command: list[str], display: str, timeout: float = 120) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env |= {"DISPLAY": display, "DIGITLAB_HOME": tempfile.mkdtemp(prefix="digitlab-bench-")}
    t0 = time.perf_counter()
    app = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        while time.perf_counter() - t0 < timeout and app.poll() is None:
            found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^DigitLab"],
                                   env={**os.environ, "DISPLAY": display}, capture_output=True,
                                   text=True).stdout.split()
            if found:
                return time.perf_counter() - t0
            time.sleep(POLL_S)
        app.terminate()
        raise SystemExit(f"no window from {' '.join(command)} (exit {app.poll()}):\n"
                         f"{app.communicate(timeout=30)[0]}")
    finally:
        app.terminate()
        output = app.communicate(timeout=30)[0] if app.stdout and not app.stdout.closed else ""
        if "Installing DigitLab" in output:
            raise SystemExit("start.sh installed first: not a warm start; run it again")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for tool in ("Xvfb", "xdotool"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed (apt-get install xvfb xdotool)")
    server, display = start_xvfb()
    try:
        script = [seconds_to_window(["./scripts/start.sh"], display) for _ in range(args.runs)]
        direct = [seconds_to_window([str(REPO / ".venv" / "bin" / "digitlab")], display)
                  for _ in range(args.runs)]
    finally:
        server.terminate()
        server.wait(10)
    figures = {"start_sh_s": script, "start_sh_median_s": statistics.median(script),
               "direct_s": direct, "direct_median_s": statistics.median(direct),
               "python": sys.version.split()[0]}
    emit("start_script", figures,
         f"./scripts/start.sh -> visible window: median {figures['start_sh_median_s']:.2f} s "
         f"({min(script):.2f}-{max(script):.2f}, {args.runs} runs); .venv/bin/digitlab directly: "
         f"median {figures['direct_median_s']:.2f} s ({min(direct):.2f}-{max(direct):.2f})")


if __name__ == "__main__":
    main()
