"""Choosing the ONNX model the Draw tab runs: the bundled one, any exported run, or any file.

Every file is validated by `core.onnx_io.classifier.DigitClassifier` before it replaces the current
model; a file that does not fit gets a dialog saying why and the current model stays.
Sessions are cached per file (and rebuilt when the file changes on disk, as a re-export does),
so switching back and forth, or comparing two pickers on one file, never reloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.shared.style import BAD_COLOR, OK_COLOR
from core.errors import DigitLabError
from core.models.spec import PARAM_BUDGET
from core.onnx_io.classifier import DigitClassifier
from core.paths import bundled_model_path, exports_dir

ROLE_PATH = Qt.ItemDataRole.UserRole


def param_count(clf: DigitClassifier) -> int:
    """The trainable parameter count: a DigitLab export records PyTorch's own count; for other
    files, the initializer elements (which may include a few buffers, see DigitClassifier)."""
    try:
        return int(clf.metadata["digitlab.params"])
    except (KeyError, ValueError):
        return clf.param_count


def describe(clf: DigitClassifier) -> str:
    """One line: model name, parameters and, for our exports, MNIST test accuracy."""
    parts = [clf.name, f"{param_count(clf):,} params"]
    acc = clf.metadata.get("digitlab.test_accuracy")
    if acc and acc != "nan":
        parts.append(f"MNIST test {acc} %")
    return " · ".join(parts)


@dataclass
class _Cached:
    mtime_ns: int
    size: int
    classifier: DigitClassifier


class ClassifierCache:
    """One validated DigitClassifier (one onnxruntime session) per file, shared by pickers."""

    def __init__(self) -> None:
        self._items: dict[Path, _Cached] = {}

    def get(self, path: str | Path) -> DigitClassifier:
        """The classifier for `path`; raises ModelFileError (or OSError) if it does not fit."""
        path = Path(path).resolve()
        stat = path.stat() if path.is_file() else None
        cached = self._items.get(path)
        if cached and stat and (cached.mtime_ns, cached.size) == (stat.st_mtime_ns, stat.st_size):
            return cached.classifier
        clf = DigitClassifier(path)  # raises before anything is replaced
        if stat is not None:
            self._items[path] = _Cached(stat.st_mtime_ns, stat.st_size, clf)
        return clf


class _ElidedLabel(QLabel):
    """One line of text that ends in "…" when narrow instead of widening the whole tab."""

    def __init__(self) -> None:
        super().__init__()
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(120)

    def setText(self, text: str) -> None:
        self._full = text
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        elided = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight,
                                               max(0, self.width()))
        super().setText(elided)


class _RefreshingCombo(QComboBox):
    """A combo box that asks for a fresh list right before it opens (new exports appear)."""

    about_to_open = Signal()

    def showPopup(self) -> None:
        self.about_to_open.emit()
        super().showPopup()


class ModelPicker(QWidget):
    """Combo of known models + "Open ONNX…", and a line saying what the chosen model is."""

    model_changed = Signal(object)  # DigitClassifier | None
    status_message = Signal(str)

    def __init__(self, cache: ClassifierCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._cache = cache
        self._classifier: DigitClassifier | None = None
        self._opened: list[Path] = []  # files opened by hand this session, listed too

        self.combo = _RefreshingCombo()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(14)
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.combo.setToolTip("The bundled model and every run exported to ONNX")
        self.combo.about_to_open.connect(self.refresh)
        self.combo.activated.connect(self._on_activated)
        self.open_button = QPushButton("Open ONNX…")
        self.open_button.setToolTip("Try any ONNX digit model file: (N, 1, 28, 28) in, 10 out")
        self.open_button.clicked.connect(self.open_file_dialog)
        self.info = _ElidedLabel()
        self.badge = QLabel()
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.combo, 1)
        top.addWidget(self.open_button)
        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.info, 1)
        line.addWidget(self.badge)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addLayout(line)
        self.refresh()
        self._show_info()

    @property
    def classifier(self) -> DigitClassifier | None:
        return self._classifier

    @property
    def current_path(self) -> str:
        return str(self._classifier.path) if self._classifier else ""

    # ------------------------------------------------------------------ choosing

    @Slot(str)
    def select_path(self, path: str, *, quiet: bool = False) -> bool:
        """Load and switch to `path`. On failure keep the current model and say why: a dialog,
        or only a status message when `quiet` (start-up restoring a file that has gone)."""
        try:
            clf = self._cache.get(path)
        except (DigitLabError, OSError) as e:
            self._report_failure(path, e, quiet)
            return False
        except Exception as e:  # a bug or an exotic file must never take the window down
            self._report_failure(path, RuntimeError(f"{type(e).__name__}: {e}"), quiet)
            return False
        resolved = clf.path.resolve()
        if not self._is_listed(resolved):
            self._opened.append(resolved)
        self._classifier = clf
        self.refresh()
        self._show_info()
        self.model_changed.emit(clf)
        self.status_message.emit(f"Loaded {clf.path.name} ({param_count(clf):,} params)")
        return True

    @Slot()
    def open_file_dialog(self) -> None:
        start = str(Path(self.current_path).parent) if self._classifier else str(exports_dir())
        path, _ = QFileDialog.getOpenFileName(self, "Open an ONNX digit model", start,
                                              "ONNX models (*.onnx);;All files (*)")
        if path:
            self.select_path(path)

    def _report_failure(self, path: str, error: Exception, quiet: bool) -> None:
        kept = (f"Still using {self._classifier.path.name}." if self._classifier
                else "No model is loaded.")
        message = f"{Path(path).name} cannot be used as a digit model.\n\n{error}\n\n{kept}"
        self.status_message.emit(f"Could not load {Path(path).name}: {error}")
        if not quiet:
            QMessageBox.critical(self, "Cannot use this model", message)
        self._select_current_in_combo()

    @Slot(int)
    def _on_activated(self, index: int) -> None:
        path = self.combo.itemData(index, ROLE_PATH)
        if not path:
            self._select_current_in_combo()
        elif path != self.current_path:
            self.select_path(path)

    # ------------------------------------------------------------------ listing

    def _is_listed(self, path: Path) -> bool:
        return any(Path(p).resolve() == path for p in self._paths_listed())

    def _paths_listed(self) -> list[str]:
        return [self.combo.itemData(i, ROLE_PATH) for i in range(self.combo.count())
                if self.combo.itemData(i, ROLE_PATH)]

    @Slot()
    def refresh(self) -> None:
        """Rebuild the list: bundled model, exported runs (newest first), files opened by hand."""
        self.combo.blockSignals(True)
        self.combo.clear()
        bundled = bundled_model_path()
        if bundled.is_file():
            self._add_item("Bundled model (default.onnx)", bundled)
        else:
            self._add_item("Bundled model missing: use Open ONNX…", None,
                           tip=f"Expected at {bundled}")
        exports = sorted(exports_dir().glob("*.onnx"), key=_mtime, reverse=True)
        self.combo.insertSeparator(self.combo.count())
        if exports:
            for path in exports:
                self._add_item(path.stem, path)
        else:
            self._add_item("No exported runs yet", None,
                           tip=f"Runs exported to ONNX appear here ({exports_dir()})")
        known = {p.resolve() for p in [bundled, *exports]}
        opened = [p for p in self._opened if p not in known]
        if opened:
            self.combo.insertSeparator(self.combo.count())
            for path in opened:
                self._add_item(f"{path.name} (opened)", path)
        self.combo.blockSignals(False)
        self._select_current_in_combo()

    def _add_item(self, text: str, path: Path | None, tip: str = "") -> None:
        self.combo.addItem(text, str(path) if path else None)
        index = self.combo.count() - 1
        self.combo.setItemData(index, tip or str(path), Qt.ItemDataRole.ToolTipRole)
        if path is None:  # an explanation, not a choice
            self.combo.model().item(index).setEnabled(False)

    def _select_current_in_combo(self) -> None:
        self.combo.blockSignals(True)
        current = Path(self.current_path).resolve() if self._classifier else None
        for i in range(self.combo.count()):
            data = self.combo.itemData(i, ROLE_PATH)
            if current is not None and data and Path(data).resolve() == current:
                self.combo.setCurrentIndex(i)
                break
        else:
            # No model: show the first line (the bundled model, or why it is missing).
            self.combo.setCurrentIndex(0 if current is None else self.combo.currentIndex())
        self.combo.blockSignals(False)

    def _show_info(self) -> None:
        clf = self._classifier
        if clf is None:
            self.info.setText("No model loaded: choose one or open an ONNX file.")
            self.info.setToolTip("")
            self.badge.hide()
            return
        self.info.setText(describe(clf))
        self.info.setToolTip(f"{describe(clf)}\n{clf.path}")
        under = param_count(clf) < PARAM_BUDGET
        self.badge.setText("under 8k" if under else "over 8k")
        self.badge.setToolTip(f"{param_count(clf):,} parameters; the budget is fewer than "
                              f"{PARAM_BUDGET:,}")
        color = OK_COLOR if under else BAD_COLOR
        self.badge.setStyleSheet(f"QLabel {{ background: {color}; color: white; "
                                 f"border-radius: 8px; padding: 1px 8px; font-weight: 600; }}")
        self.badge.show()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
