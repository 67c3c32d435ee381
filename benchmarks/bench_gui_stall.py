"""How responsive the window stays while it trains on the CPU, and how fast it starts.

1. Start-up: `python -m app --startup-time` in fresh processes: seconds until the window is
   usable (shown, event loop running), and whether torch was imported by then.
2. Stall: the real main window trains `dl-flagship-8k` for one epoch on full MNIST through the
   Train tab (its QThread worker), while a 10 ms QTimer on the GUI thread records the gaps between
   its ticks. The worst gap is the longest the window could not react to the user.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui_stall.py [--train-images 60000]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from _common import REPO, emit


def startup_seconds(runs: int = 5) -> list[float]:
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-m", "app", "--startup-time"], cwd=REPO, text=True,
                             capture_output=True, check=True,
                             env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}).stdout
        match = re.search(r"usable after ([0-9.]+) s \(torch imported: (\w+)\)", out)
        assert match and match.group(2) == "False", out
        times.append(float(match.group(1)))
    return times


def training_stall(train_images: int) -> dict[str, float]:
    os.environ["DIGITLAB_HOME"] = tempfile.mkdtemp(prefix="digitlab-bench-")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope,
                      os.environ["DIGITLAB_HOME"])
    app = QApplication(sys.argv[:1])
    from app.shared.style import configure_plots
    from app.window import MainWindow
    from tests.support.stall_meter import StallMeter

    configure_plots()
    window = MainWindow()
    window.show()
    tab = window.train_tab
    box = tab.form.model_box
    box.setCurrentIndex(box.findData("dl-flagship-8k"))
    tab.form.set_values({"epochs": 1, "train_subset": train_images, "test_subset": 0,
                         "device": "cpu"})
    meter = StallMeter(interval_ms=10)
    deadline = time.time() + 5  # let the start-up facts (torch import) settle first
    while time.time() < deadline:
        app.processEvents()
    tab.start()
    while tab.plots.loss.n < 1:  # data loaded and the first steps reported
        app.processEvents()
    meter.start()
    t0 = time.perf_counter()
    while tab.is_training:
        app.processEvents()
        time.sleep(0.001)
    seconds = time.perf_counter() - t0
    meter.stop()
    window.close()
    return {**meter.summary(), "training_seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-images", type=int, default=60000)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    starts = startup_seconds()
    stall = training_stall(args.train_images)
    figures = {"startup_s": starts, "startup_median_s": statistics.median(starts), **stall}
    emit("gui", figures,
         f"window usable after {statistics.median(starts):.2f} s (median of {len(starts)}, torch "
         f"not imported); while training one epoch on {args.train_images:,} images on the CPU "
         f"({stall['training_seconds']:.0f} s) the worst event-loop stall was "
         f"{stall['worst_ms']:.0f} ms (p99 {stall['p99_ms']:.0f} ms, median "
         f"{stall['median_ms']:.0f} ms over {stall['ticks']} ticks of a 10 ms timer)")


if __name__ == "__main__":
    main()
