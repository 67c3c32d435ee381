"""Where `digitlab-cli train` spends its time before and around the first epoch.

Runs the real command in a subprocess (default: `digitlab-cli train --epochs 1 --device cpu`) and
stamps each line it prints with the seconds since the process was started, which splits the
process into: start-up (interpreter, imports, config) up to "Loading MNIST", data + model up to
the "Training ..." line, compilation up to "Compiled ...", the epoch (with its test pass) up to
its line, and the exit. A second child times the imports alone (`-X importtime`, largest first).

    python benchmarks/bench_startup.py [--repeat 3] [--train-subset 0] [-- extra train options]

Each repeat is a fresh process, like a user starting the command again: the first one may
build the MNIST copy and torch.compile's cache, the later ones use them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from _common import REPO, emit

MARKS = {  # span name: a text that starts the line ending that span
    "startup_s": "Loading MNIST",
    "data_and_model_s": "Training ",
    "compile_s": "Compiled the model",
    "epoch_s": "epoch ",
}


def stamped_run(cmd: list[str]) -> dict[str, float]:
    """Seconds from process start to the first line matching each mark, and to exit."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    seen: dict[str, float] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        for name, mark in MARKS.items():
            if name not in seen and line.startswith(mark):
                seen[name] = time.perf_counter() - t0
    proc.wait()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    seen["total_s"] = time.perf_counter() - t0
    spans, last = {}, 0.0
    for name in (*MARKS, "total_s"):
        if name in seen:
            spans[name] = seen[name] - last if name != "total_s" else seen[name]
            last = seen[name] if name != "total_s" else last
    spans["exit_s"] = seen["total_s"] - last
    return spans


def import_profile(top: int = 6) -> tuple[float, list[tuple[str, float]]]:
    """Seconds to import the CLI and torch, and the `top` largest imports (cumulative)."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c",
                          "import core.cli.main, torch"], cwd=REPO, capture_output=True,
                         text=True, check=True).stderr
    rows = []
    for line in out.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = (part.strip() for part in line[12:].split("|"))
            if cumulative.isdigit():
                rows.append((name, int(cumulative) / 1e6))
    total = sum(s for name, s in rows if not name.startswith(" "))
    return total, sorted(rows, key=lambda r: -r[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--train-subset", type=int, default=0)
    parser.add_argument("extra", nargs="*", help="more `digitlab-cli train` options (after --)")
    args = parser.parse_args()
    cmd = [sys.executable, "-m", "core.cli", "train", "--epochs", "1", "--device", "cpu",
           "--train-subset", str(args.train_subset), *args.extra]
    runs = []
    for _ in range(args.repeat):
        load = os.getloadavg()[0]
        runs.append({**stamped_run(cmd), "load_avg_1min": load})
    imports_s, largest = import_profile()
    last = runs[-1]
    emit("startup", {"command": " ".join(cmd[1:]), "runs": runs, "imports_s": imports_s,
                     "largest_imports": largest},
         "train --epochs 1, last of {n} runs: start-up {startup_s:.1f} s, data + model "
         "{data_and_model_s:.1f} s, compile {compile_s:.1f} s, epoch {epoch_s:.1f} s, exit "
         "{exit_s:.1f} s, total {total_s:.1f} s (load {load_avg_1min:.1f}); imports alone "
         "{imports:.1f} s".format(n=len(runs), imports=imports_s,
                                  **{k: last.get(k, float("nan")) for k in (
                                      *MARKS, "exit_s", "total_s", "load_avg_1min")}))


if __name__ == "__main__":
    main()
