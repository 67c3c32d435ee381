"""The Draw tab: draw a digit, watch one or two models read it live, keep it in "My digits".

Only numpy, onnxruntime and Qt here (no torch): the tab must open instantly. One prediction is
microseconds of onnxruntime work plus ~1 ms of rendering and preprocessing, so it runs on the GUI
thread, throttled by a single-shot timer so a burst of pointer moves costs one update. Opening a
model file (at start-up too) and scoring My digits are background jobs (see `ModelPicker` and
`ModelColumn`); `shutdown` ends them.

The exports folder is watched, so a model exported from any tab, or by the CLI, is listed at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QFileSystemWatcher, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import (
    QAction,
    QFont,
    QHideEvent,
    QKeyEvent,
    QKeySequence,
    QPalette,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.draw.canvas import PEN_RANGE, DrawingCanvas, PixelPreview
from app.draw.explain_view import ExplainView
from app.draw.model_column import ModelColumn
from app.draw.model_picker import ClassifierCache, describe, exported_models
from app.draw.my_digits_panel import MyDigitsPanel
from app.shared.jobs import shutdown_all
from app.shared.settings import app_settings
from app.shared.style import series_color
from core.data.my_digits import MyDigits
from core.errors import DigitLabError
from core.onnx_io.classifier import DigitClassifier
from core.paths import bundled_model_path, exports_dir

UPDATE_DELAY_MS = 40  # live predictions at most ~25 times a second while drawing
EXPORTS_SETTLE_MS = 150  # an export writes a temporary file, then renames it: list once after


def _bold(widget: QWidget) -> QFont:
    font = QFont(widget.font())
    font.setWeight(QFont.Weight.DemiBold)
    return font


class DrawTab(QWidget):
    """Canvas, 28×28 model input, one or two models' predictions, and My digits.

    Actions `undo_action`, `redo_action`, `clear_action` (and `save_digit_action`) are meant for
    the main window's Edit menu too. `load_model(path)` shows a freshly exported model once it
    has loaded in the background; `shutdown(timeout)` ends the tab's jobs.
    """

    status_message = Signal(str)
    my_digits_changed = Signal()  # digits were added to or removed from My digits

    def __init__(self, parent: QWidget | None = None, *, settings: QSettings | None = None,
                 store: MyDigits | None = None) -> None:
        super().__init__(parent)
        self._settings = settings if settings is not None else app_settings()
        self.store = store if store is not None else MyDigits()
        self._image28: np.ndarray | None = None
        self._announced = False  # the start-up model has been reported in the status bar
        self._second_waits = False  # compare turned on while the first model still loads
        cache = ClassifierCache()  # shared: both columns on one file use one session

        self.canvas = DrawingCanvas()
        self.preview = PixelPreview()
        self.primary = ModelColumn(cache, series_color(0))
        self.secondary = ModelColumn(cache, series_color(1))
        self.my_digits = MyDigitsPanel(self.store)
        self.compare_box = QCheckBox("Compare with a second model")
        self.compare_box.setToolTip("Run a second model on the same drawing, side by side")
        self.explain = ExplainView(self._settings)  # the first model's map, in the background
        self._make_actions()
        self._build_layout()

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(UPDATE_DELAY_MS)
        self._timer.timeout.connect(self.update_prediction)
        self.canvas.changed.connect(self._schedule_update)
        self.canvas.history_changed.connect(self._on_history_changed)
        for column in (self.primary, self.secondary):
            column.picker.model_changed.connect(
                lambda clf, c=column: self._on_model_changed(c, clf))
            column.picker.loading_changed.connect(lambda _, c=column: c.predict(self._image28))
            column.picker.load_failed.connect(
                lambda path, _, c=column: self._forget_failed_model(c, path))
            column.picker.status_message.connect(self.status_message)
        self.primary.picker.settled.connect(self._first_model_settled)
        self.compare_box.toggled.connect(self.set_compare)
        self.explain.toggle.toggled.connect(self._explain_now)
        self.my_digits.save_requested.connect(self.save_digit)
        self.my_digits.set_changed.connect(self._on_set_changed)
        self.my_digits.status_message.connect(self.status_message)
        self.my_digits.personal_model_ready.connect(self.load_model)  # "Teach it my hand"
        self.my_digits.teach.current_classifier = lambda: self.primary.classifier
        self._exports_watcher = QFileSystemWatcher(self)
        self._exports_settle = QTimer(self)
        self._exports_settle.setSingleShot(True)
        self._exports_settle.setInterval(EXPORTS_SETTLE_MS)
        self._exports_settle.timeout.connect(self.refresh_models)
        self._exports_watcher.directoryChanged.connect(self._exports_settle.start)
        self._watch_exports()

        self._restore_settings()
        self._on_history_changed()

    # ------------------------------------------------------------------ building

    def _make_actions(self) -> None:
        def action(text: str, tip: str, keys: list[QKeySequence],
                   slot: Callable[[], None]) -> QAction:
            act = QAction(text, self)
            act.setShortcuts(keys)
            shortcuts = " or ".join(k.toString(QKeySequence.SequenceFormat.NativeText)
                                    for k in keys)
            act.setToolTip(f"{tip} ({shortcuts})")
            act.triggered.connect(slot)
            self.addAction(act)
            return act

        self.undo_action = action("&Undo stroke", "Undo the last stroke",
                                  [QKeySequence(QKeySequence.StandardKey.Undo)], self.canvas.undo)
        self.redo_action = action("&Redo stroke", "Redo the stroke undone last",
                                  [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")],
                                  self.canvas.redo)
        self.clear_action = action("C&lear canvas", "Clear the canvas; undo brings it back",
                                   [QKeySequence(Qt.Key.Key_Delete), QKeySequence("Ctrl+L")],
                                   self.canvas.clear)
        # Enter saves from anywhere in the tab (the canvas usually has the focus).
        self.save_digit_action = self.my_digits.save_action
        self.addAction(self.save_digit_action)

    def _build_layout(self) -> None:
        # Left: the canvas with its tools, and My digits under it.
        self.pen_slider = QSlider(Qt.Orientation.Horizontal)
        self.pen_slider.setRange(*PEN_RANGE)
        self.pen_slider.setToolTip("Pen width for the next strokes")
        self.pen_slider.setMinimumWidth(110)
        self.pen_slider.setMaximumWidth(180)
        self.pen_value = QLabel()
        self.pen_value.setMinimumWidth(22)
        self.pen_slider.valueChanged.connect(self.set_pen_width)
        tools = QHBoxLayout()
        tools.addWidget(QLabel("Pen"))
        tools.addWidget(self.pen_slider)
        tools.addWidget(self.pen_value)
        tools.addStretch(1)
        for act, short in ((self.undo_action, "Undo"), (self.redo_action, "Redo"),
                           (self.clear_action, "Clear")):
            act.setIconText(short)  # the button says "Undo", a menu says "Undo stroke"
            button = QToolButton()
            button.setDefaultAction(act)
            tools.addWidget(button)
        # The column is a widget so its width can be capped to the height the canvas gets
        # (see resizeEvent): the canvas stays square with its tools right under it.
        self._left = QWidget()
        left = QVBoxLayout(self._left)
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.canvas, 1)
        left.addLayout(tools)
        left.addSpacing(8)
        left.addWidget(self.my_digits)
        left.addStretch(0)

        # Middle: the model's input, beside the canvas.
        caption = QLabel("Model input")
        caption.setFont(_bold(caption))
        note = QLabel("28 × 28, centred by\nmass, as in MNIST")
        note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        middle = QVBoxLayout()
        middle.addWidget(caption)
        middle.addWidget(self.preview)
        middle.addWidget(note)
        middle.addSpacing(12)
        middle.addWidget(self.explain)
        middle.addStretch(1)

        # Right: the models.
        rule = QFrame()
        rule.setFrameShape(QFrame.Shape.HLine)
        rule.setFrameShadow(QFrame.Shadow.Sunken)
        right = QVBoxLayout()
        right.addWidget(self.primary, 1)
        right.addSpacing(4)
        right.addWidget(rule)
        right.addWidget(self.compare_box)
        right.addWidget(self.secondary, 1)

        root = QHBoxLayout(self)
        root.setContentsMargins(12, 12, 12, 12)
        root.setSpacing(18)
        root.addWidget(self._left, 1)
        root.addLayout(middle, 0)
        root.addLayout(right, 1)

    # ------------------------------------------------------------------ public slots

    @Slot(str)
    def load_model(self, path: str) -> None:
        """Show the model at `path` in the first column once it has loaded in the background
        (a dialog says why if it cannot)."""
        self.primary.picker.select_path(str(path))

    @Slot()
    def open_model_dialog(self) -> None:
        self.primary.picker.open_file_dialog()

    @Slot()
    def refresh_models(self) -> None:
        """Re-list exported runs (the exports folder is watched, and the lists also refresh
        themselves whenever they open)."""
        self._watch_exports()  # the folder may have been removed and made again
        self.primary.picker.refresh()
        self.secondary.picker.refresh()

    @property
    def loading(self) -> bool:
        """A model file is being opened in the background."""
        return self.primary.picker.loading or self.secondary.picker.loading

    def shutdown(self, timeout: float = 5.0) -> bool:
        """End the tab's background jobs (model loading, My-digits scoring), waiting up to
        `timeout` s in all; True when every thread has ended. No job reports back afterwards."""
        runners = [r for column in (self.primary, self.secondary) for r in column.job_runners]
        runners += [self.my_digits.teach.jobs, self.explain.jobs]
        return shutdown_all(runners, timeout)

    @Slot(bool)
    def set_compare(self, on: bool) -> None:
        if self.compare_box.isChecked() != on:
            self.compare_box.setChecked(on)  # re-enters through toggled
            return
        self.secondary.setVisible(on)
        self._settings.setValue("draw/compare", on)
        if on and self.secondary.classifier is None and not self.secondary.picker.loading:
            if self.primary.picker.loading:  # its choice decides what the second one is not
                self._second_waits = True
            else:
                self._load_second_model()
        self._refresh_scores()
        self.update_prediction()

    @Slot(int)
    def set_pen_width(self, width: int) -> None:
        self.canvas.set_pen_width(width)
        if self.pen_slider.value() != width:
            self.pen_slider.setValue(width)
        self.pen_value.setText(str(width))
        self._settings.setValue("draw/pen_width", width)

    @Slot()
    def update_prediction(self) -> None:
        """Preprocess the drawing now and show every visible model's reading of it."""
        self._timer.stop()
        self._image28 = self.canvas.model_input()  # (28, 28) from the strokes, or None
        self.preview.set_image(self._image28)
        for column in self._columns():
            column.predict(self._image28)
        self.my_digits.set_can_save(self._image28 is not None)
        self.my_digits.set_reading(self.primary.view.prediction)
        self.explain.request(self.primary.classifier, self._image28)  # off: returns at once

    @Slot(int)
    def save_digit(self, label: int) -> bool:
        """Add the drawing to My digits as `label`, then clear the canvas for the next one."""
        self.update_prediction()  # save exactly what is drawn now, not the last timer tick
        if self._image28 is None:
            self.status_message.emit("Nothing to save: draw a digit first.")
            return False
        try:
            self.store.add(self._image28, label, drawing=self.canvas.ink_array())
        except (DigitLabError, OSError) as e:
            self.status_message.emit(f"Could not save to My digits: {e}")
            return False
        self.canvas.clear()  # undoable; an empty canvas also asks for the next digit's label
        self._on_set_changed()
        n = self.store.count()
        digits = "1 digit" if n == 1 else f"{n} digits"
        self.status_message.emit(f"Saved as {label} to My digits ({digits} in all)")
        return True

    # ------------------------------------------------------------------ for tests and callers

    @property
    def image28(self) -> np.ndarray | None:
        return self._image28

    @property
    def classifier(self) -> DigitClassifier | None:
        return self.primary.classifier

    # ------------------------------------------------------------------ internals

    def _columns(self) -> list[ModelColumn]:
        return [self.primary, self.secondary] if self.compare_box.isChecked() else [self.primary]

    @Slot()
    def _schedule_update(self) -> None:
        if not self._timer.isActive():  # coalesce: the first change starts the countdown
            self._timer.start()

    @Slot()
    def _on_history_changed(self) -> None:
        self._update_actions()
        if self.canvas.is_empty():  # cleared, saved or undone: the next drawing needs its label
            self.my_digits.set_label(None)
        self.update_prediction()  # a finished stroke, undo, redo or clear: show it at once

    def _update_actions(self) -> None:
        # Only while the tab is shown: the main window also lists these actions in its Edit
        # menu, where enabled shortcuts would work on an unseen canvas (and Delete or Ctrl+Z
        # would clash with another tab's own).
        shown = self.isVisible()
        self.undo_action.setEnabled(shown and self.canvas.can_undo())
        self.redo_action.setEnabled(shown and self.canvas.can_redo())
        self.clear_action.setEnabled(shown and bool(self.canvas.strokes))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._update_actions()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        if not event.spontaneous():  # a minimised window keeps its state
            self._update_actions()

    def _on_model_changed(self, column: ModelColumn, clf: DigitClassifier | None) -> None:
        if clf is not None:
            self._settings.setValue(self._setting_key(column), str(clf.path))
        column.show_score(self.store)
        column.predict(self._image28)
        if column is self.primary:
            self.my_digits.set_reading(self.primary.view.prediction)
            self.my_digits.teach.model_changed(clf)  # a result about another model goes
            self.explain.request(clf, self._image28)

    @Slot(bool)
    def _explain_now(self, on: bool) -> None:
        if on:
            self.explain.request(self.primary.classifier, self._image28)

    def _setting_key(self, column: ModelColumn) -> str:
        return "draw/model" if column is self.primary else "draw/compare_model"

    def _forget_failed_model(self, column: ModelColumn, path: str) -> None:
        """A remembered model that no longer loads is not tried again at the next start."""
        key = self._setting_key(column)
        if str(self._settings.value(key, "")) == path:
            self._settings.remove(key)

    @Slot()
    def _on_set_changed(self) -> None:
        self.my_digits.refresh_counts()
        self._refresh_scores()
        self.my_digits_changed.emit()

    def _refresh_scores(self) -> None:
        for column in self._columns():
            column.show_score(self.store)

    def _restore_settings(self) -> None:
        s = self._settings
        self.set_pen_width(_int(s.value("draw/pen_width"), int(self.canvas.pen_width)))
        # The label is never restored: each drawing gets its own (see MyDigitsPanel).
        # The remembered model loads in a job like any other: a file that hangs or fails cannot
        # stop the window from opening, and a failing one is forgotten.
        self.primary.picker.select_first(_files([s.value("draw/model", ""),
                                                 str(bundled_model_path()),
                                                 *map(str, exported_models())]))
        compare = str(s.value("draw/compare", "false")).lower() in ("true", "1")
        self.compare_box.setChecked(compare)  # when on, set_compare loads the second model
        self.secondary.setVisible(compare)
        self._refresh_scores()

    def _load_second_model(self) -> None:
        """The remembered second model, else the newest export or the bundled model that the
        first column does not show. None left: the picker says "No model loaded"."""
        first = self.primary.picker.wanted_path
        others = [p for p in [*map(str, exported_models()), str(bundled_model_path())]
                  if not first or Path(p).resolve() != Path(first).resolve()]
        self.secondary.picker.select_first(
            _files([self._settings.value("draw/compare_model", ""), *others]))

    @Slot()
    def _first_model_settled(self) -> None:
        if self._second_waits:
            self._second_waits = False
            if self.compare_box.isChecked() and self.secondary.classifier is None:
                self._load_second_model()
        if not self._announced:
            self._announced = True
            # Queued: at start-up the main window connects to status_message after __init__.
            QTimer.singleShot(0, self, self._announce_model)

    @Slot()
    def _announce_model(self) -> None:
        clf = self.primary.classifier
        if clf is None:
            missing = "" if bundled_model_path().is_file() else " the bundled model is missing."
            self.status_message.emit(f"No model loaded:{missing} Open an ONNX file or export "
                                     "a run.")
        else:
            self.status_message.emit(f"Draw tab: {describe(clf)}")

    def _watch_exports(self) -> None:
        """Watch the exports folder (made here if missing) so new exports are listed at once."""
        folder = exports_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return  # nowhere to watch; the lists still refresh when opened
        if str(folder) not in self._exports_watcher.directories():
            self._exports_watcher.addPath(str(folder))

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Cap the canvas column's width to the height its canvas gets, and the canvas's height
        to its width: a square canvas with no dead band between it and its tools."""
        super().resizeEvent(event)
        margins = self.layout().contentsMargins()
        below = self._left.layout().sizeHint().height() - self.canvas.sizeHint().height()
        room = self.height() - margins.top() - margins.bottom() - below
        self._left.setMaximumWidth(max(self.canvas.minimumWidth(), room))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Digit keys choose the My digits label (from anywhere in the tab but a text field)."""
        text = event.text()
        plain = not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if plain and len(text) == 1 and text in "0123456789":
            self.my_digits.set_label(int(text))
            return
        super().keyPressEvent(event)


def _files(candidates: list[object]) -> list[str]:
    """The candidates that name an existing file, in order (settings may hold anything)."""
    return [str(p) for p in candidates if p and isinstance(p, str) and Path(p).is_file()]


def _int(value: object, default: int) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
