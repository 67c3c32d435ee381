"""Render every tab of the real DigitLab window to PNG (docs/screenshots/), offscreen.

Uses a copy of a real run store (DIGITLAB_HOME, default: the user's), trains a short real run
through the Train tab, replays a drawn sample digit on the Draw tab, and grabs each screen.
Nothing in the user's store changes: the copy lives in a temporary folder.

    DIGITLAB_HOME=~/.local/share/DigitLab DIGITLAB_DATA=/path/to/mnist \
        QT_QPA_PLATFORM=offscreen python scripts/screenshots.py [--compare RUN ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
OUT = REPO / "docs" / "screenshots"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", nargs="*", default=[],
                        help="names or ids of runs to select in the Compare tab")
    parser.add_argument("--second-model", default="",
                        help="run whose export is the second model on the Draw tab")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from core.paths import home_dir

    source = home_dir()
    scratch = Path(tempfile.mkdtemp(prefix="digitlab-shots-"))
    if (source / "runs").is_dir():
        shutil.copytree(source / "runs", scratch / "runs")
    os.environ["DIGITLAB_HOME"] = str(scratch)

    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QColor, QPalette
    from PySide6.QtWidgets import QApplication

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope,
                      str(scratch / "settings"))
    app = QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    from app.selftest import _replay
    from app.shared.style import configure_plots
    from app.window import MainWindow
    from core.paths import exports_dir
    from core.runs.store import RunStore
    from core.workflows.export import export_run

    configure_plots()
    OUT.mkdir(parents=True, exist_ok=True)
    window = MainWindow()
    window.resize(1280, 820)
    window.show()

    def wait(condition: Callable[[], bool], timeout: float = 600) -> None:
        end = time.time() + timeout
        while not condition():
            app.processEvents()
            time.sleep(0.02)
            if time.time() > end:
                raise TimeoutError("the window did not get there in time")

    def shot(name: str) -> None:
        for _ in range(20):
            app.processEvents()
        window.grab().save(str(OUT / name))
        print(f"wrote {OUT / name}")

    # Train tab: the preview, a short real run mid-way, then its results.
    train = window.train_tab
    window.tabs.setCurrentWidget(train)
    wait(lambda: train.form.device_box.count() > 0)
    train.form.set_values({"model": "dl-dilated-8k"})
    train.form.apply_model_recipe()
    train.form.set_values({"epochs": 4, "train_subset": 20000, "test_subset": 0})
    end = time.time() + 3  # let the augmentation preview (a worker) arrive
    wait(lambda: time.time() > end)
    shot("train-preview.png")
    train.start()
    wait(lambda: _epochs_done(train) >= 2)
    shot("train-live.png")
    wait(lambda: not train.is_training)
    wait(lambda: train.pages.currentWidget() is train.results)
    time.sleep(0.5)
    shot("train-results.png")

    # Compare tab: real runs, a few selected.
    store = RunStore()
    window.tabs.setCurrentWidget(window.compare_tab)
    window.compare_tab.refresh()
    wanted = [store.get(key).id for key in args.compare]
    if wanted:
        window.compare_tab.select_runs(wanted)
    shot("compare.png")

    # Draw tab: a drawn sample, read by the bundled model and a second one.
    draw = window.draw_tab
    window.tabs.setCurrentWidget(draw)
    if args.second_model:
        run = store.get(args.second_model)
        path = exports_dir() / f"{run.record.name}.onnx"
        export_run(run, path, checkpoint="last")
        draw.refresh_models()
        draw.set_compare(True)
        draw.secondary.picker.select_path(str(path))
    wait(lambda: not draw.loading)  # models open in background jobs
    samples = json.loads((REPO / "resources" / "samples" / "strokes.json").read_text())
    draw.set_pen_width(int(samples["pen"]))
    _replay(draw.canvas, samples["digits"]["4"], float(samples["canvas"]))
    draw.update_prediction()
    shot("draw.png")

    dark = QPalette()
    role = QPalette.ColorRole
    # A complete dark palette, as a desktop's dark theme hands one to Qt.
    for which, color in ((role.Window, "#202124"), (role.Base, "#17181a"),
                         (role.AlternateBase, "#26282b"), (role.Text, "#e8eaed"),
                         (role.WindowText, "#e8eaed"), (role.Button, "#2d2f33"),
                         (role.ButtonText, "#e8eaed"), (role.Highlight, "#3d6fb6"),
                         (role.HighlightedText, "#ffffff"), (role.PlaceholderText, "#9aa0a6"),
                         (role.Light, "#3c3f44"), (role.Midlight, "#33363a"),
                         (role.Mid, "#4a4d52"), (role.Dark, "#111214"), (role.Shadow, "#000000"),
                         (role.ToolTipBase, "#2d2f33"), (role.ToolTipText, "#e8eaed")):
        dark.setColor(which, QColor(color))
    app.setPalette(dark)
    configure_plots()
    draw.canvas.clear()
    _replay(draw.canvas, samples["digits"]["7"], float(samples["canvas"]))
    draw.update_prediction()
    shot("draw-dark.png")

    window.close()
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


def _epochs_done(train) -> int:  # type: ignore[no-untyped-def]
    from core.runs.store import RunStore

    if not train._run_id:
        return 0
    return RunStore().get(train._run_id).record.epochs_done


if __name__ == "__main__":
    sys.exit(main())
