""""Explain the reading" in the Draw tab: which ink drove the model's answer, as a heat map over
the 28×28 input (core/onnx_io/explain.py: occlusion, forward passes of the ONNX model only).

An occlusion map is a few hundred forward passes (tens of ms on a busy CPU), too slow for the
GUI thread, where the reading itself stays: maps are computed by a JobRunner, one at a time,
and coalesced. While one computes, only the newest drawing waits; a map that arrives for a
drawing that has changed since is dropped, never shown. Off, the tab does no extra work at all.
"""

from __future__ import annotations

import contextlib
import os
import threading

import numpy as np
from PySide6.QtCore import QSettings, Qt, Slot
from PySide6.QtGui import QImage, QPaintEvent, QPalette
from PySide6.QtWidgets import QCheckBox, QLabel, QVBoxLayout, QWidget

from app.draw.canvas import paint_pixels
from app.shared.jobs import JobRunner
from core.onnx_io.classifier import DigitClassifier
from core.onnx_io.explain import Explanation, heat_rgb, occlusion

SETTING = "draw/explain"
BACKGROUND_NICENESS = 10  # the map's thread yields the CPU to the GUI thread (Linux: per thread)


def background_occlusion(clf: DigitClassifier, image28: np.ndarray) -> Explanation:
    """`occlusion` at a lower CPU priority for this thread where the OS allows it: on a busy
    machine the map waits, the reading does not. Elsewhere it simply runs."""
    if hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
        with contextlib.suppress(OSError):  # Linux treats each thread as its own task
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)
    return occlusion(clf, image28)


class HeatMap(QWidget):
    """The map: the drawing in grey, red where its ink favours the answer, blue the runner-up."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self.setFixedSize(168, 168)  # the size of the model-input preview beside it
        self.note = ""

    def set_map(self, rgb: np.ndarray | None, note: str = "") -> None:
        """(28, 28, 3) uint8, or None with a short note saying why there is no map."""
        if rgb is None:
            self._image = None
        else:
            data = np.ascontiguousarray(rgb, dtype=np.uint8)
            self._image = QImage(data.data, 28, 28, 28 * 3, QImage.Format.Format_RGB888).copy()
        self.note = note
        self.update()

    def has_map(self) -> bool:
        return self._image is not None

    def paintEvent(self, event: QPaintEvent) -> None:
        paint_pixels(self, self._image, self.note)


class ExplainView(QWidget):
    """A toggle, the heat map and a line saying what its colours mean."""

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self.toggle = QCheckBox("Explain the reading")
        self.toggle.setToolTip("Blank each 4×4 square of the model input in turn and watch the "
                               "answer: red ink pushed the model towards its answer, blue ink "
                               "towards the runner-up. Computed in the background.")
        self.heat = HeatMap()
        self.caption = QLabel(textFormat=Qt.TextFormat.PlainText, wordWrap=True)
        self.caption.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.caption.setFixedWidth(168)
        self.jobs = JobRunner(self)
        self._latest = 0  # generation of the newest drawing asked about
        self._waiting: tuple[int, DigitClassifier, np.ndarray] | None = None
        self.maps_shown = 0  # for tests and the benchmark: maps that reached the screen
        self.maps_dropped = 0  # results that came back for a drawing already replaced
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toggle)
        layout.addWidget(self.heat)
        layout.addWidget(self.caption)
        on = str(settings.value(SETTING, "false")).lower() in ("true", "1")
        self.toggle.setChecked(on)
        self._show_enabled(on)
        self.toggle.toggled.connect(self._toggled)

    @property
    def enabled(self) -> bool:
        return self.toggle.isChecked()

    @property
    def busy(self) -> bool:
        return self.jobs.busy or self._waiting is not None

    def request(self, clf: DigitClassifier | None, image28: np.ndarray | None) -> None:
        """The drawing (or model) changed: explain this one once the running map is done."""
        self._latest += 1
        if not self.enabled:
            return
        if clf is None or image28 is None:
            self._waiting = None
            self.heat.set_map(None, "no digit" if clf is not None else "no model")
            self.caption.setText("")
            return
        self._waiting = (self._latest, clf, np.array(image28, dtype=np.float32))
        if not self.jobs.busy:
            self._start_waiting()

    def _start_waiting(self) -> None:
        if self._waiting is None:
            return
        generation, clf, image = self._waiting
        self._waiting = None
        self.caption.setText("Explaining…" if not self.heat.has_map() else self.caption.text())
        self.jobs.start(background_occlusion, clf, image,
                        on_done=lambda found: self._done(generation, image, found),
                        on_error=lambda error: self._failed(generation, error))

    def _done(self, generation: int, image: np.ndarray, found: Explanation) -> None:
        if generation == self._latest and self.enabled:
            self.heat.set_map(heat_rgb(found, image))
            self.caption.setText(f"Red: ink for {found.digit}. Blue: ink for "
                                 f"{found.runner_up}, the runner-up.")
            self.maps_shown += 1
        else:
            self.maps_dropped += 1  # stale: the drawing changed while it was computed
        self._start_waiting()

    def _failed(self, generation: int, error: BaseException) -> None:
        if generation == self._latest:
            self.heat.set_map(None, "cannot explain")
            self.caption.setText(f"The model failed on the blanked copies "
                                 f"({type(error).__name__}).")
        self._start_waiting()

    @Slot(bool)
    def _toggled(self, on: bool) -> None:
        self._settings.setValue(SETTING, on)
        self._show_enabled(on)
        if not on:
            self._waiting = None
            self._latest += 1  # a map still computing is dropped when it arrives

    def _show_enabled(self, on: bool) -> None:
        self.heat.setVisible(on)
        self.caption.setVisible(on)
        if not on:
            self.heat.set_map(None)
            self.caption.setText("")
