"""DigitLab's main window: Train, Compare and Draw tabs, menus, status bar, settings.

`app.main` prepares native libraries and starts it; the self-test drives it. Start-up stays light:
onnxruntime, numpy and Qt only. torch is imported by the Train and Compare tabs' jobs when a run,
an export or the zoo's parameter counts need it.
"""

from __future__ import annotations

import sys
from importlib import metadata
from typing import Any

from PySide6.QtCore import QByteArray, Qt, Slot
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMessageBox, QTabWidget

from app.shared.settings import app_settings
from core import __version__
from core.paths import resources_dir


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        from app.compare.tab import CompareTab
        from app.draw.tab import DrawTab
        from app.train.tab import TrainTab

        self.setWindowTitle(f"DigitLab {__version__}")
        icon = resources_dir() / "icons" / "digitlab.png"
        if icon.is_file():
            self.setWindowIcon(QIcon(str(icon)))
        self.tabs = QTabWidget(documentMode=True)
        self.train_tab = TrainTab()
        self.compare_tab = CompareTab()
        self.draw_tab = DrawTab()
        for widget, title in ((self.train_tab, "&Train"), (self.compare_tab, "&Compare"),
                              (self.draw_tab, "&Draw")):
            self.tabs.addTab(widget, title)
        self.setCentralWidget(self.tabs)
        self.statusBar().showMessage("Ready", 3000)

        for tab in (self.train_tab, self.compare_tab, self.draw_tab):
            tab.status_message.connect(self.show_status)
        self.train_tab.run_finished.connect(self.compare_tab.refresh)
        self.train_tab.try_in_draw.connect(self.try_in_draw)
        self.compare_tab.try_in_draw.connect(self.try_in_draw)
        self.compare_tab.resume_requested.connect(self.resume_run)
        self.tabs.currentChanged.connect(self._tab_changed)
        self._build_menus()
        self._restore_settings()

    # --- menus ----------------------------------------------------------------------------------

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        open_action = file_menu.addAction("&Open ONNX model…")
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self._open_onnx)
        file_menu.addSeparator()
        quit_action = file_menu.addAction("&Quit")
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)

        edit_menu = bar.addMenu("&Edit")
        for action in (self.draw_tab.undo_action, self.draw_tab.redo_action,
                       self.draw_tab.clear_action):
            edit_menu.addAction(action)

        train_menu = bar.addMenu("T&raining")
        train_menu.addAction(self.train_tab.start_stop_action)
        train_menu.addAction(self.train_tab.pause_action)

        view_menu = bar.addMenu("&View")
        for index, name in enumerate(("Train", "Compare", "Draw")):
            action = QAction(f"{name} tab", self)
            action.setShortcut(QKeySequence(f"Ctrl+{index + 1}"))
            action.triggered.connect(lambda _=False, i=index: self.tabs.setCurrentIndex(i))
            view_menu.addAction(action)
            self.tabs.setTabToolTip(index, f"{name} ({action.shortcut().toString()})")

        help_menu = bar.addMenu("&Help")
        about = help_menu.addAction("&About DigitLab")
        about.triggered.connect(self.show_about)

    @Slot()
    def _open_onnx(self) -> None:
        self.tabs.setCurrentWidget(self.draw_tab)
        self.draw_tab.open_model_dialog()

    @Slot(int)
    def _tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.compare_tab:
            self.compare_tab.refresh()

    @Slot(str)
    def show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    @Slot(str)
    def try_in_draw(self, onnx_path: str) -> None:
        self.tabs.setCurrentWidget(self.draw_tab)
        self.draw_tab.load_model(onnx_path)

    @Slot(str)
    def resume_run(self, run_id: str) -> None:
        self.tabs.setCurrentWidget(self.train_tab)
        self.train_tab.resume_run(run_id)

    @Slot()
    def show_about(self) -> None:
        # Found by the Train tab's start-up job; until then the box holds a placeholder "CPU".
        devices = [d.label for d in self.train_tab.form.detected_devices]
        QMessageBox.about(self, "About DigitLab", about_text(devices))

    # --- settings and closing ---------------------------------------------------------------------

    def _restore_settings(self) -> None:
        s = app_settings()
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        self.tabs.setCurrentIndex(int(s.value("window/tab", 0)))

    SHUTDOWN_TIMEOUT_S = 15.0  # per tab: a batch, an epoch's checkpoint, an export finishing

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.train_tab.is_training and not self.confirm_stop_training():
            event.ignore()
            return
        if self.train_tab.is_training:
            self.statusBar().showMessage("Stopping training…")
            self.repaint()
        still_running = [name for name, tab in self._tabs_with_jobs()
                         if not tab.shutdown(self.SHUTDOWN_TIMEOUT_S)]
        if still_running:
            # Quitting now would kill their threads mid-write: keep the window and say so.
            event.ignore()
            self.tell_still_running(still_running)
            return
        s = app_settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/tab", self.tabs.currentIndex())
        event.accept()

    def _tabs_with_jobs(self) -> list[tuple[str, Any]]:
        """Tabs whose `shutdown(timeout) -> bool` joins their own background jobs."""
        tabs = (("Train", self.train_tab), ("Compare", self.compare_tab), ("Draw", self.draw_tab))
        return [(name, tab) for name, tab in tabs if hasattr(tab, "shutdown")]

    # The two dialogs of closing; tests replace them.
    def confirm_stop_training(self) -> bool:
        """Asked when the window closes mid-run: True = stop the run and quit."""
        box = QMessageBox(QMessageBox.Icon.Question, "A run is training",
                          "Training is still running. Stop it and quit?\n\nThe run keeps every "
                          "finished epoch: resume it later from the Compare tab.",
                          QMessageBox.StandardButton.Cancel, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        stop = box.addButton("Stop and quit", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is stop

    def tell_still_running(self, tabs: list[str]) -> None:
        names = " and ".join(f"the {name} tab" for name in tabs)
        box = QMessageBox(QMessageBox.Icon.Warning, "Still finishing",
                          f"Background work in {names} did not stop in time. The window stays "
                          f"open so nothing is cut off half-written; close it again in a moment.",
                          QMessageBox.StandardButton.Ok, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.exec()


def about_text(devices: list[str] | None = None) -> str:
    """Versions and training devices; `devices` as the Train tab found them (fastest first)."""
    import onnxruntime
    from PySide6 import __version__ as pyside_version

    device = ", ".join(devices) if devices else "still being detected"
    return (f"<h3>DigitLab {__version__}</h3>"
            f"<p>Train tiny digit classifiers under 8,000 parameters, compare runs, and try "
            f"them on your own handwriting.</p>"
            f"<p>torch {_version('torch')}<br>torchvision {_version('torchvision')}<br>"
            f"onnxruntime {onnxruntime.__version__}<br>Qt (PySide6) {pyside_version}<br>"
            f"Python {sys.version.split()[0]}<br>Training devices: {device}</p>")
