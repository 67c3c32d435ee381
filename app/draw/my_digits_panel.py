"""The "My digits" strip: choose the true label, save the drawing, see how many of each.

The panel only collects; the store is `core.data.my_digits.MyDigits` and scoring happens in the tab.
Number keys 0–9 pick the label (the tab forwards them), Enter saves.

My digits is a test set, so a wrong label silently spoils every score computed on it. Hence no
label is chosen until the user picks one for this drawing (the tab clears it whenever the canvas
is emptied, a save included), and a label the model confidently disagrees with is flagged in red
and must be confirmed before it is saved. Saving a digit the model misreads stays possible: those
are the most useful ones.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtGui import QAction, QFont, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QButtonGroup,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.draw import my_digits_browser
from app.draw.teach import TeachHand
from app.shared.style import BAD_COLOR
from core.data.my_digits import MyDigits
from core.onnx_io.classifier import Prediction

CONFIDENT_READING = 0.9  # a model this sure of another digit makes the chosen label suspect

# A segmented control: the chosen label must stand out in every style and palette, which a
# checked QToolButton does not (Fusion on a dark palette draws it nearly like the others).
_LABEL_BUTTON_STYLE = """
QToolButton { border: 1px solid palette(mid); border-radius: 4px; padding: 3px 0;
              background: palette(button); color: palette(button-text); }
QToolButton:hover { border-color: palette(highlight); }
QToolButton:checked { background: palette(highlight); color: palette(highlighted-text);
                      border-color: palette(highlight); font-weight: 600; }
"""


class MyDigitsPanel(QWidget):
    """Label buttons 0–9 with the saved count under each, a Save button and a small menu."""

    save_requested = Signal(int)  # the chosen label (confirmed when the model disagrees)
    set_changed = Signal()  # digits removed from the set here
    status_message = Signal(str)

    def __init__(self, store: MyDigits, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._label: int | None = None
        self._reading: Prediction | None = None  # the first model's reading of the drawing
        title = QLabel("My digits")
        bold = QFont(self.font())
        bold.setWeight(QFont.Weight.DemiBold)
        title.setFont(bold)
        self.total = QLabel()
        self.total.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.buttons = QButtonGroup(self)
        self.buttons.setExclusive(True)
        self._counts: list[QLabel] = []
        grid = QGridLayout()
        grid.setHorizontalSpacing(4)
        grid.setVerticalSpacing(0)
        for digit in range(10):
            button = QToolButton()
            button.setText(str(digit))
            button.setCheckable(True)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.setMinimumWidth(26)
            button.setToolTip(f"The drawing shows a {digit} (key {digit})")
            button.setStyleSheet(_LABEL_BUTTON_STYLE)
            self.buttons.addButton(button, digit)
            count = QLabel("0")
            count.setAlignment(Qt.AlignmentFlag.AlignCenter)
            count.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            small = QFont(self.font())
            small.setPointSizeF(small.pointSizeF() * 0.85)
            count.setFont(small)
            self._counts.append(count)
            grid.addWidget(button, 0, digit)
            grid.addWidget(count, 1, digit)
        self.buttons.idClicked.connect(self.set_label)
        self.warning = QLabel()
        self.warning.setTextFormat(Qt.TextFormat.PlainText)
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(f"QLabel {{ color: {BAD_COLOR}; font-weight: 600; }}")
        self.warning.hide()

        self.save_action = QAction("Save to My digits", self)
        self.save_action.setShortcuts([QKeySequence(Qt.Key.Key_Return),
                                       QKeySequence(Qt.Key.Key_Enter)])
        self.save_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.save_action.triggered.connect(self._request_save)
        self.save_button = QPushButton()
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save_action.trigger)

        self.more = QToolButton()
        self.more.setText("⋯")
        self.more.setToolTip("Manage My digits")
        self.more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.more.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0; }")
        self.more.setAutoRaise(True)
        menu = QMenu(self.more)
        self.remove_last_action = menu.addAction("Remove the last saved digit",
                                                 self.remove_last)
        menu.addAction("Browse My digits…", self.browse)
        menu.addAction("Open the My digits folder", self.open_folder)
        menu.addSeparator()
        self.delete_all_action = menu.addAction("Delete all My digits…", self.delete_all)
        self.more.setMenu(menu)

        # "Teach it my hand": fine-tune on these digits (the tab opens the personal model).
        self.teach = TeachHand(store)
        self.browser: my_digits_browser.MyDigitsBrowser | None = None  # "Browse My digits…"
        self.teach.status_message.connect(self.status_message)
        self.personal_model_ready = self.teach.personal_model_ready

        head = QHBoxLayout()
        head.addWidget(title)
        head.addWidget(self.total, 1)
        head.addWidget(self.more)
        row = QHBoxLayout()
        row.addLayout(grid, 1)
        row.addSpacing(6)
        row.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(head)
        layout.addLayout(row)
        layout.addWidget(self.warning)
        layout.addWidget(self.teach)
        self.addAction(self.save_action)
        self.set_label(None)
        self.set_can_save(False)
        self.refresh_counts()

    @property
    def label(self) -> int | None:
        """The digit the user says the drawing shows; None until one is chosen for it."""
        return self._label

    @Slot(int)
    def set_label(self, digit: int | None) -> None:
        """Choose the label (a digit key or button), or None to ask for one again."""
        self._label = None if digit is None else int(digit)
        # An exclusive group cannot uncheck its checked button: lift the rule for a moment.
        self.buttons.setExclusive(False)
        for button_id in range(10):
            self.buttons.button(button_id).setChecked(button_id == self._label)
        self.buttons.setExclusive(True)
        self._update_save_text()

    def set_can_save(self, can_save: bool) -> None:
        self.save_action.setEnabled(can_save)
        self.save_button.setEnabled(can_save)
        self._update_save_text()

    def set_reading(self, prediction: Prediction | None) -> None:
        """What the first model reads in the drawing now (None: no digit, or no model)."""
        self._reading = prediction
        self._update_save_text()

    def disagreement(self) -> Prediction | None:
        """The model's reading when it is confident and differs from the chosen label."""
        reading, label = self._reading, self._label
        if (label is None or reading is None or reading.digit == label
                or reading.confidence < CONFIDENT_READING):
            return None
        return reading

    def changeEvent(self, event: QEvent) -> None:
        # The stylesheet reads palette(...) once; re-apply it when the system theme changes.
        if event.type() == QEvent.Type.PaletteChange:
            for button in self.buttons.buttons():
                button.setStyleSheet("")
                button.setStyleSheet(_LABEL_BUTTON_STYLE)
        super().changeEvent(event)

    @Slot()
    def refresh_counts(self) -> None:
        counts = self.store.counts_per_label()
        for digit, label in enumerate(self._counts):
            label.setText(str(counts[digit]))
        total = sum(counts.values())
        self.total.setText(f"{total} saved" if total else "your personal test set")
        self.remove_last_action.setEnabled(total > 0)
        self.delete_all_action.setEnabled(total > 0)
        self.teach.refresh()

    def _update_save_text(self) -> None:
        digit = self.label
        can_save = self.save_action.isEnabled()
        self.save_button.setText("Save as …" if digit is None else f"Save as {digit}")
        if not can_save:
            tip = "Draw a digit first"
        elif digit is None:
            tip = "Choose the digit this drawing shows first (buttons or keys 0–9)"
        else:
            tip = f"Add this drawing to My digits labelled {digit} (Enter)"
        self.save_button.setToolTip(tip)
        self.save_action.setToolTip(tip)
        reading = self.disagreement() if can_save else None
        if reading is None:
            self.warning.hide()
            self.warning.clear()
        else:
            self.warning.setText(f"The model reads a {reading.digit} "
                                 f"({100 * reading.confidence:.1f} % sure): is it really a "
                                 f"{digit}? Saving will ask.")
            self.warning.show()

    @Slot()
    def _request_save(self) -> None:
        if not self.save_action.isEnabled():
            return
        label = self.label
        if label is None:
            self.warning.setText("Choose the digit this drawing shows (0–9), then save.")
            self.warning.show()
            return
        reading = self.disagreement()
        if reading is not None and not ask_to_save_anyway(self, label, reading):
            self.status_message.emit(f"Not saved: choose the digit the drawing shows "
                                     f"(the model reads a {reading.digit}).")
            return
        self.save_requested.emit(label)

    @Slot()
    def remove_last(self) -> None:
        if self.store.count():
            self.store.remove(-1)
            self.refresh_counts()
            self.set_changed.emit()

    @Slot()
    def open_folder(self) -> None:
        my_digits_browser.open_folder(self, self.store.root)  # says so where nothing opens it

    @Slot()
    def browse(self) -> None:
        """The saved drawings as thumbnails, per label (app/draw/my_digits_browser.py)."""
        dialog = my_digits_browser.MyDigitsBrowser(self.store, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.browser = dialog  # the latest, for tests and a second click

    @Slot()
    def delete_all(self) -> None:
        n = self.store.count()
        answer = QMessageBox.question(
            self, "Delete My digits",
            f"Delete all {n} saved digits? This cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Yes:
            self.store.clear()
            self.refresh_counts()
            self.set_changed.emit()


def ask_to_save_anyway(parent: QWidget, label: int, reading: Prediction) -> bool:
    """Confirm a label the model confidently disagrees with; Cancel is the default, so a hasty
    Enter does not save a mislabelled digit."""
    box = QMessageBox(QMessageBox.Icon.Warning, "Check the label",
                      f"The model reads this drawing as a {reading.digit} "
                      f"({100 * reading.confidence:.1f} % sure), but you chose {label}.\n\n"
                      f"Save it to My digits as {label}?", QMessageBox.StandardButton.NoButton,
                      parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    save = box.addButton(f"Save as {label}", QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.exec()
    return box.clickedButton() is save
