"""The whole window: three tabs wired together, menus with shortcuts, a clean close mid-run."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu, QMessageBox

from app.window import MainWindow, about_text
from core.runs.store import RunStore

QUICK = dict(device="cpu", batch_size=64, train_subset=1024, test_subset=500)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def window(qtbot, mnist_dir, monkeypatch) -> MainWindow:
    monkeypatch.setenv("DIGITLAB_DATA", str(mnist_dir))
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1280, 820)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def choose(win: MainWindow, model: str, **values: object) -> None:
    box = win.train_tab.form.model_box
    box.setCurrentIndex(box.findData(model))
    win.train_tab.form.set_values({**QUICK, **values})


def menu_actions(win: MainWindow) -> dict[str, object]:
    found = {}
    for menu in win.menuBar().findChildren(QMenu):
        for action in menu.actions():
            if action.text():
                found[action.text().replace("&", "")] = action.shortcut().toString()
    return found


def test_three_tabs_and_menus_with_shortcuts(window: MainWindow, qtbot, monkeypatch) -> None:
    titles = [window.tabs.tabText(i).replace("&", "") for i in range(window.tabs.count())]
    assert titles == ["Train", "Compare", "Draw"]
    assert window.windowTitle().startswith("DigitLab ")
    actions = menu_actions(window)
    assert actions["Draw tab"] == "Ctrl+3" and actions["Start training"] == "Ctrl+Return"
    assert any(k.startswith("Undo") and v == "Ctrl+Z" for k, v in actions.items())
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.draw_tab
    assert "onnxruntime" in about_text() and "torch" in about_text()
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "about", lambda parent, title, text: shown.append(text))
    window.show_about()
    if not window.train_tab.form.detected_devices:  # not found yet: it says so, not a guess
        assert "Training devices: still being detected" in shown[-1]
    box = window.train_tab.form.device_box
    qtbot.waitUntil(lambda: box.itemText(0).startswith("Fastest:"), timeout=60_000)
    window.show_about()
    # What this machine has, asked of torch directly: CUDA devices first, then the CPU.
    import torch

    expected = [f"{torch.cuda.get_device_name(i)} (cuda:{i})"
                for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    expected.append("CPU")
    listed = shown[-1].split("Training devices: ", 1)[1]
    positions = [listed.find(label) for label in expected]
    assert -1 not in positions and positions == sorted(positions), (listed, expected)
    if not torch.cuda.is_available():
        assert "cuda" not in listed


def test_a_run_trained_in_the_train_tab_appears_in_compare(window: MainWindow, qtbot) -> None:
    choose(window, "dl-tiny-1k", epochs=1)
    window.train_tab.start()
    qtbot.waitUntil(lambda: not window.train_tab.is_training, timeout=120_000)
    assert window.train_tab.plots.loss.n > 0  # the live curve was filled
    (record,) = RunStore().list()
    assert record.status == "completed"
    qtbot.waitUntil(lambda: [r.id for r in window.compare_tab.listed_records()] == [record.id],
                    timeout=5_000)


def test_closing_mid_training_asks_then_stops_and_waits(window: MainWindow, qtbot,
                                                         monkeypatch) -> None:
    choose(window, "dl-flagship-8k", epochs=5)
    window.train_tab.start()
    qtbot.waitUntil(lambda: window.train_tab.plots.loss.n > 0, timeout=60_000)
    asked: list[bool] = []
    monkeypatch.setattr(window, "confirm_stop_training", lambda: asked.append(False) or False)
    assert not window.close()  # Cancel: the window and the run carry on
    assert asked and window.isVisible() and window.train_tab.is_training
    monkeypatch.setattr(window, "confirm_stop_training", lambda: asked.append(True) or True)
    assert window.close()  # Stop and quit: stops the run and joins its thread
    assert asked[-1] and not window.train_tab.is_training
    (record,) = RunStore().list()
    assert record.status == "stopped"


def test_a_tab_that_cannot_stop_in_time_keeps_the_window(window: MainWindow, qtbot,
                                                         monkeypatch) -> None:
    release = threading.Event()
    window.compare_tab.actions.jobs.start(release.wait, 60)  # a job that ignores cancel
    told: list[list[str]] = []
    monkeypatch.setattr(window, "tell_still_running", told.append)
    monkeypatch.setattr(window, "SHUTDOWN_TIMEOUT_S", 0.2)
    assert not window.close()
    assert window.isVisible() and told == [["Compare"]]
    release.set()
    assert window.close() and told == [["Compare"]]


# Run in a fresh interpreter: which thread imports torch first, from the first import on. A
# finder sees every module first loaded; the __import__ hook sees `import torch` statements run
# while another thread is loading it (which would block the GUI thread until it is done).
TORCH_WATCH = """
import builtins, sys, threading, time
GUI = threading.get_ident()
seen = []  # (thread, module): every torch import begun or asked for

def note(name):
    if name == "torch" or name.startswith("torch."):
        seen.append((threading.get_ident(), name))

class Watch:
    def find_spec(self, name, path=None, target=None):
        note(name)

sys.meta_path.insert(0, Watch())
_import = builtins.__import__
def watched_import(name, *args, **kwargs):
    note(name)
    return _import(name, *args, **kwargs)
builtins.__import__ = watched_import

from PySide6.QtWidgets import QApplication
app = QApplication([])
from app.shared.style import configure_plots
configure_plots()
from app.window import MainWindow
window = MainWindow()
print("torch after construction:", "torch" in sys.modules)
window.show()
deadline = time.monotonic() + 120
while not window.train_tab.form.detected_devices and time.monotonic() < deadline:
    app.processEvents()  # the start-up facts job: devices (torch) in its own thread
    time.sleep(0.01)
print("devices found:", bool(window.train_tab.form.detected_devices))
print("GUI thread:", sorted({n for t, n in seen if t == GUI})[:5])
print("other threads:", len({n for t, n in seen if t != GUI}))
window.close()
"""


def test_the_window_never_imports_torch_on_the_gui_thread(mnist_dir: Path) -> None:
    """MainWindow() leaves torch out; once shown, torch comes from the start-up facts job in its
    own thread (the watch sees it there), never from the GUI thread."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "DIGITLAB_DATA": str(mnist_dir)}
    out = subprocess.run([sys.executable, "-c", TORCH_WATCH], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = dict(line.split(": ", 1) for line in out.stdout.splitlines() if ": " in line)
    assert lines["torch after construction"] == "False"
    assert lines["devices found"] == "True"
    assert lines["GUI thread"] == "[]", out.stdout
    assert int(lines["other threads"]) > 0  # the watch works: it saw the job's imports


def test_startup_time_reports_a_window_without_torch(mnist_dir: Path) -> None:
    """`digitlab --startup-time` on the Train tab: the window is usable before the start-up
    facts job begins importing torch (it starts after the first paint)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "DIGITLAB_DATA": str(mnist_dir)}
    out = subprocess.run([sys.executable, "-m", "app", "--startup-time"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "(torch imported: False)" in out.stdout, out.stdout
