"""Choosing the ONNX model the Draw tab runs: the bundled one, any exported run, or any file.

An ONNX file is untrusted input: loading it (reading, validating, probing it on test images) runs
as a background job, never on the GUI thread, so a model that hangs or eats memory cannot freeze
the window. The current model stays in use until the new one has passed; a file that does not fit
gets a dialog saying why. The combo box always shows the model actually loaded (a placeholder
when there is none), never merely the one asked for.

Sessions are cached per file (and rebuilt when the file changes on disk, as a re-export does),
so switching back and forth, or comparing two pickers on one file, never reloads.
Every text that comes from a file (model names, file names, errors quoting them) is plain text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.shared.dialogs import ONNX_FILES, ONNX_FILTER, open_file, plain_tooltip, show_error
from app.shared.jobs import JobRunner, JobState
from app.shared.style import BAD_COLOR, OK_COLOR
from core.errors import DigitLabError
from core.models.spec import PARAM_BUDGET
from core.onnx_io.classifier import DigitClassifier
from core.paths import bundled_model_path, exports_dir

ROLE_PATH = Qt.ItemDataRole.UserRole
NO_MODEL = "No model loaded"
# Live readings run on the GUI thread (microseconds for a digit model). A file can still loop
# on real drawings after passing the probe on test images: each run stops after this long.
LIVE_RUN_SECONDS = 1.0
# Text from a file shown on one line is cut to this before Qt measures it: eliding megabytes
# (a model name in 60 MB of metadata) took Qt seconds on every resize and tab switch.
MAX_SHOWN_CHARS = 1000
MAX_SHOWN_FIELD = 24  # one metadata figure beside the name


def describe(clf: DigitClassifier) -> str:
    """One line: model name, parameters and, for our exports, MNIST test accuracy."""
    parts = [clf.name, f"{clf.param_count:,} params"]
    acc = clf.metadata.get("digitlab.test_accuracy", "")[:MAX_SHOWN_FIELD]  # a file's words
    if acc and acc != "nan":
        parts.append(f"MNIST test {acc} %")
    return " · ".join(parts)


def budget_badge(clf: DigitClassifier) -> str:
    """The badge beside a model: whether it is under the parameter budget."""
    return f"under {PARAM_BUDGET // 1000}k" if clf.under_budget else f"over {PARAM_BUDGET // 1000}k"


@dataclass(frozen=True)
class LoadedModel:
    """A validated classifier and the file state it was loaded from (for the cache)."""

    path: Path  # resolved
    mtime_ns: int
    size: int
    classifier: DigitClassifier


def load_model(path: str, state: JobState | None = None) -> LoadedModel:
    """Open, validate and try `path` (a background job: the file is checked, then tried in a
    child process under time and memory limits, see core.onnx_io.probe; cancelling the job
    kills that process). Raises ModelFileError (or OSError) saying why it cannot be used.
    """
    resolved = Path(path).resolve()
    # Stat first: a file rewritten while it loads then looks changed and is loaded again.
    stat = resolved.stat() if resolved.is_file() else None
    should_stop = state.is_interruption_requested if state is not None else None
    # DigitClassifier (what core.onnx_io.classifier.open_classifier calls) with the live limit.
    classifier = DigitClassifier(resolved, should_stop=should_stop,
                                 run_seconds=LIVE_RUN_SECONDS)
    if stat is None:  # it appeared meanwhile
        stat = resolved.stat()
    return LoadedModel(resolved, stat.st_mtime_ns, stat.st_size, classifier)


class ClassifierCache:
    """One validated DigitClassifier (one onnxruntime session) per file, shared by pickers.

    Used on the GUI thread only: jobs load, the GUI thread records what they loaded.
    """

    def __init__(self) -> None:
        self._items: dict[Path, LoadedModel] = {}

    def lookup(self, path: str | Path) -> DigitClassifier | None:
        """The cached classifier for `path` if the file is unchanged since it was loaded."""
        resolved = Path(path).resolve()
        cached = self._items.get(resolved)
        if cached is None:
            return None
        try:
            stat = resolved.stat()
        except OSError:
            return None
        if (cached.mtime_ns, cached.size) != (stat.st_mtime_ns, stat.st_size):
            return None
        return cached.classifier

    def remember(self, loaded: LoadedModel) -> None:
        self._items[loaded.path] = loaded


class _ElidedLabel(QLabel):
    """One line of plain text that ends in "…" when narrow instead of widening the whole tab."""

    def __init__(self) -> None:
        super().__init__()
        self._full = ""
        self.setTextFormat(Qt.TextFormat.PlainText)  # model names come from files
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(120)

    def setText(self, text: str) -> None:
        self._full = text[:MAX_SHOWN_CHARS]  # far wider than any screen: eliding stays cheap
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


@dataclass
class _Request:
    """A load in progress, or queued start-up candidates still to try."""

    path: str
    quiet: bool  # start-up: say failures in the status bar, never in a dialog
    fallbacks: list[str]  # tried in order if `path` fails (start-up only)


class ModelPicker(QWidget):
    """Combo of known models + "Open ONNX…", and a line saying what the chosen model is."""

    model_changed = Signal(object)  # DigitClassifier, once it is loaded and in use
    load_failed = Signal(str, str)  # path, why (the current model, if any, stays)
    loading_changed = Signal(bool)  # a background load started (True) or ended (False)
    settled = Signal()  # a choice (or the start-up list) ended, loaded or not
    status_message = Signal(str)

    def __init__(self, cache: ClassifierCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._cache = cache
        self._classifier: DigitClassifier | None = None
        self._opened: list[Path] = []  # files opened by hand this session, listed too
        self._request: _Request | None = None
        self.jobs = JobRunner(self)  # one load at a time: a newer choice cancels the older

        self.combo = _RefreshingCombo()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(14)
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.combo.setPlaceholderText(NO_MODEL)  # shown while no model is loaded (index -1)
        self.combo.setToolTip("The bundled model and every run exported to ONNX")
        self.combo.about_to_open.connect(self.refresh)
        self.combo.activated.connect(self._on_activated)
        self.open_button = QPushButton("Open ONNX…")
        self.open_button.setToolTip("Try any ONNX digit model file: (N, 1, 28, 28) in, 10 out")
        self.open_button.clicked.connect(self.open_file_dialog)
        self.info = _ElidedLabel()
        self.badge = QLabel()
        self.badge.setTextFormat(Qt.TextFormat.PlainText)
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

    @property
    def loading(self) -> bool:
        return self._request is not None

    @property
    def wanted_path(self) -> str:
        """The file being loaded, else the one in use ("" for none)."""
        return self._request.path if self._request else self.current_path

    # ------------------------------------------------------------------ choosing

    @Slot(str)
    def select_path(self, path: str, *, quiet: bool = False) -> None:
        """Switch to `path` once it has loaded in the background; on failure keep the current
        model and say why: a dialog, or only a status message when `quiet`."""
        self._start(_Request(str(path), quiet, []))

    def select_first(self, candidates: list[str]) -> None:
        """Start-up: load the first candidate that works, quietly (no dialogs)."""
        paths = [str(p) for p in candidates if p]
        if paths:
            self._start(_Request(paths[0], True, paths[1:]))
        else:
            self.settled.emit()

    @Slot()
    def open_file_dialog(self) -> None:
        path = open_file(self, "Open an ONNX digit model", ONNX_FILTER, ONNX_FILES)
        if path is not None:
            self.select_path(str(path))

    def _start(self, request: _Request) -> None:
        self.jobs.cancel()  # a newer choice wins; the older load's result is dropped
        was_loading = self.loading
        cached = self._cache.lookup(request.path)
        if cached is not None:
            self._request = None
            self._use(cached)
            if was_loading:
                self.loading_changed.emit(False)
            self.settled.emit()
            return
        self._request = request
        self._show_info()
        if not was_loading:
            self.loading_changed.emit(True)
        self.jobs.start(load_model, request.path, on_done=self._loaded, on_error=self._failed)

    @Slot(object)
    def _loaded(self, loaded: LoadedModel) -> None:
        if self._request is None:  # shut down meanwhile
            return
        self._request = None
        self._cache.remember(loaded)
        self._use(loaded.classifier)
        self.loading_changed.emit(False)
        self.settled.emit()

    @Slot(object)
    def _failed(self, error: BaseException) -> None:
        request = self._request
        if request is None:
            return
        self._report_failure(request.path, error, request.quiet)
        if request.fallbacks:  # still loading: `_request` stays set until the next one starts
            self._start(_Request(request.fallbacks[0], True, request.fallbacks[1:]))
            return
        self._request = None
        self._show_info()
        self.loading_changed.emit(False)
        self.settled.emit()

    def _use(self, clf: DigitClassifier) -> None:
        resolved = clf.path.resolve()
        if not self._is_listed(resolved):
            self._opened.append(resolved)
        self._classifier = clf
        self.refresh()
        self._show_info()
        self.model_changed.emit(clf)
        self.status_message.emit(f"Loaded {clf.path.name} ({clf.param_count:,} params)")

    def _report_failure(self, path: str, error: BaseException, quiet: bool) -> None:
        name = Path(path).name
        kept = (f"Still using {self._classifier.path.name}." if self._classifier
                else "No model is loaded.")
        reason = _reason(error)
        self.load_failed.emit(path, reason)
        self.status_message.emit(f"Could not load {name}: {reason}")
        if not quiet:
            show_error(self, "Cannot use this model",
                       f"{name} cannot be used as a digit model.\n\n{reason}\n\n{kept}")
        self._select_current_in_combo()

    @Slot(int)
    def _on_activated(self, index: int) -> None:
        path = self.combo.itemData(index, ROLE_PATH)
        self._select_current_in_combo()  # the loaded model stays shown until another loads
        if path and path != self.current_path:
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
        exports = exported_models()
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
        self.combo.setItemData(index, plain_tooltip(tip or str(path)),
                               Qt.ItemDataRole.ToolTipRole)
        if path is None:  # an explanation, not a choice
            self.combo.model().item(index).setEnabled(False)

    def _select_current_in_combo(self) -> None:
        """Show the loaded model's line, or the "No model loaded" placeholder."""
        self.combo.blockSignals(True)
        index = -1
        if self._classifier is not None:
            current = self._classifier.path.resolve()
            for i in range(self.combo.count()):
                data = self.combo.itemData(i, ROLE_PATH)
                if data and Path(data).resolve() == current:
                    index = i
                    break
        self.combo.setCurrentIndex(index)
        self.combo.blockSignals(False)

    def _show_info(self) -> None:
        clf = self._classifier
        if self._request is not None:
            self.info.setText(f"Loading {Path(self._request.path).name}…")
            self.info.setToolTip(plain_tooltip(self._request.path))
        elif clf is None:
            self.info.setText(f"{NO_MODEL}: choose one above or open an ONNX file.")
            self.info.setToolTip("")
        else:
            self.info.setText(describe(clf))
            self.info.setToolTip(plain_tooltip(f"{describe(clf)}\n{clf.path}"))
        if clf is None:
            self.badge.hide()
            return
        self.badge.setText(budget_badge(clf))
        self.badge.setToolTip(f"{clf.param_count:,} parameters; the budget is fewer than "
                              f"{PARAM_BUDGET:,}")
        color = OK_COLOR if clf.under_budget else BAD_COLOR
        self.badge.setStyleSheet(f"QLabel {{ background: {color}; color: white; "
                                 f"border-radius: 8px; padding: 1px 8px; font-weight: 600; }}")
        self.badge.show()


def _reason(error: BaseException) -> str:
    """What to tell the user: our errors carry a message made for them; anything else (a bug
    or an exotic file) is named by its type, and never takes the window down."""
    if isinstance(error, DigitLabError | OSError):
        return str(error) or type(error).__name__
    return f"{type(error).__name__}: {error}"


def exported_models() -> list[Path]:
    """The .onnx files in the exports folder, newest first ([] when it cannot be read)."""
    try:
        files = list(exports_dir().glob("*.onnx"))
    except OSError:
        return []
    return sorted(files, key=_mtime, reverse=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
