"""`DigitLab --self-test`: prove that this installation (or packaged build) works, offscreen.

Checks, in order, and says which failed:
  1. the main window opens with its three tabs;
  2. the bundled model loads and is under the 8k budget;
  3. every drawn sample digit in resources/samples/ — replayed as real mouse strokes on the
     Draw tab's canvas — is read as the digit it is; a blank canvas reads as "no digit";
  4. when MNIST is available (DIGITLAB_DATA or the user data dir): a few real training steps on
     the best device, then an ONNX export that onnxruntime reloads and agrees with.
User data is not touched: runs, My digits and settings go to a temporary folder.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path


class SelfTest:
    def __init__(self) -> None:
        self.results: list[tuple[str, bool, str]] = []

    def check(self, name: str, fn: Callable[[], str]) -> bool:
        t0 = time.perf_counter()
        try:
            detail, ok = fn(), True
        except Exception as e:  # a failed check is reported, never fatal to the rest
            detail, ok = f"{type(e).__name__}: {e}", False
            if os.environ.get("DIGITLAB_SELFTEST_TRACEBACK"):
                traceback.print_exc()
        self.results.append((name, ok, detail))
        print(f"[{'PASS' if ok else 'FAIL'}] {name}: {detail} ({time.perf_counter() - t0:.1f} s)",
              flush=True)
        return ok


def _densify(points: list[list[float]], step: float = 4.0) -> list[tuple[float, float]]:
    """Pointer events arrive every few pixels; so do ours."""
    out: list[tuple[float, float]] = []
    for (x0, y0), (x1, y1) in pairwise(points):
        n = max(1, int(math.hypot(x1 - x0, y1 - y0) / step))
        out += [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(n)]
    out.append(tuple(points[-1]))  # type: ignore[arg-type]
    return out


def _replay(canvas, strokes: list[list[list[float]]], units: float) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    square = canvas._square()  # the drawing area inside the widget

    def at(x: float, y: float) -> QPoint:
        return QPoint(round(square.x() + x / units * square.width()),
                      round(square.y() + y / units * square.height()))

    for stroke in strokes:
        points = _densify(stroke)
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         at(*points[0]))
        for x, y in points[1:]:
            QTest.mouseMove(canvas, at(x, y))
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                           at(*points[-1]))


def run_self_test() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from core.data.mnist import find_mnist_files
    from core.paths import bundled_model_path, default_data_dir, resources_dir

    data_dir = default_data_dir()  # resolved before the temporary home replaces the user's
    scratch = Path(tempfile.mkdtemp(prefix="digitlab-selftest-"))
    os.environ["DIGITLAB_HOME"] = str(scratch)

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(scratch / "settings"))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from app.shared.style import configure_plots
    from app.window import MainWindow

    configure_plots()
    test = SelfTest()
    print(f"DigitLab self-test (scratch folder {scratch})", flush=True)
    window: MainWindow | None = None

    def open_window() -> str:
        nonlocal window
        window = MainWindow()
        window.resize(1280, 820)
        window.show()
        app.processEvents()
        titles = [window.tabs.tabText(i).replace("&", "") for i in range(window.tabs.count())]
        assert titles == ["Train", "Compare", "Draw"], titles
        return f"window '{window.windowTitle()}' with tabs {', '.join(titles)}"

    def bundled_model() -> str:
        assert window is not None
        tab = window.draw_tab
        tab.load_model(str(bundled_model_path()))  # opens in a background job
        deadline = time.monotonic() + 60
        while tab.loading and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        clf = tab.classifier
        assert clf is not None and clf.path.resolve() == bundled_model_path().resolve(), \
            "the Draw tab refused it"
        assert clf.under_budget, "not under the 8k budget"
        return f"{clf.name}, {clf.param_count:,} params, under 8k"

    def drawn_digits() -> str:
        assert window is not None
        tab = window.draw_tab
        window.tabs.setCurrentWidget(tab)
        app.processEvents()
        samples = json.loads((resources_dir() / "samples" / "strokes.json").read_text())
        tab.set_pen_width(int(samples["pen"]))
        read = []
        for label, strokes in sorted(samples["digits"].items()):
            tab.canvas.clear()
            _replay(tab.canvas, strokes, float(samples["canvas"]))
            tab.update_prediction()  # what the throttle timer would do a few ms later
            prediction = tab.primary.view.prediction
            got = None if prediction is None else prediction.digit
            assert got == int(label), f"drew a {label}, the model read {got}"
            read.append(f"{label}:{prediction.confidence:.0%}")
        tab.canvas.clear()
        tab.update_prediction()
        assert tab.primary.view.prediction is None, "a blank canvas got a guess"
        return f"read {' '.join(read)}; blank canvas → no digit"

    def training_steps() -> str:
        from core.data.mnist import load_arrays
        from core.onnx_io.classifier import DigitClassifier
        from core.onnx_io.export import export_model
        from core.training.config import TrainConfig
        from core.training.control import Reporter
        from core.training.loop import train
        from core.training.metrics import StepMetrics

        losses: list[float] = []

        class Steps(Reporter):
            def step(self, metrics: StepMetrics) -> None:
                losses.append(metrics.loss)

        config = TrainConfig(epochs=1, batch_size=64, lr=0.1, train_subset=1024,
                             test_subset=256, log_every=1, device="auto")
        result = train(config, reporter=Steps(), data=load_arrays(data_dir))
        assert result.status == "completed" and result.model is not None
        assert all(math.isfinite(x) for x in losses) and losses[-1] < losses[0], losses
        path = scratch / "selftest.onnx"
        report = export_model(result.model, path, {"digitlab.version": "self-test",
                                                   "digitlab.normalization": "in-graph",
                                                   "digitlab.output": "logits"})
        DigitClassifier(path)
        acc = result.history[-1].test_acc
        return (f"{len(losses)} steps, loss {losses[0]:.2f} → {losses[-1]:.2f}, test accuracy "
                f"{acc:.1f}% on 256 digits; ONNX export matches torch within "
                f"{max(report.max_abs_diff.values()):.1e}")

    if test.check("main window", open_window):
        test.check("bundled model", bundled_model)
        test.check("drawn digits through the Draw tab", drawn_digits)
    if find_mnist_files(data_dir) is not None:
        test.check(f"training steps on MNIST from {data_dir}", training_steps)
    else:
        print(f"[SKIP] training steps: no MNIST in {data_dir} (set DIGITLAB_DATA to check them)")
    if window is not None:
        window.close()
    shutil.rmtree(scratch, ignore_errors=True)
    failed = [name for name, ok, _ in test.results if not ok]
    print(f"{len(test.results) - len(failed)} passed, {len(failed)} failed", flush=True)
    if failed:
        print(f"Self-test FAILED at: {', '.join(failed)}", flush=True)
    return 1 if failed else 0
