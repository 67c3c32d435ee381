"""After a run: the confusion matrix with per-class accuracy beside it, and the digits it got wrong.

`core.runs.results.run_results` (in a job: torch, MNIST) evaluates the run's default checkpoint
(best when picked on validation, else last: core/runs/best.py) and
cuts out the misclassified test images; `ResultsView` shows them.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.shared.jobs import JobRunner, shutdown_all
from app.shared.style import BAD_COLOR, SERIES_COLORS
from app.train.preview import gray_pixmap
from core.runs.results import RunResults


def evaluation_job(run_id: str) -> RunResults:  # a job: torch, MNIST
    from core.runs.results import run_results

    return run_results(run_id)


class ConfusionMatrix(QWidget):
    """10×10 counts as a heat map (rows: true digit), with each row's accuracy in a bar beside it.

    Correct counts (diagonal) shade blue by their share of the row; errors shade orange on a
    square-root scale of the largest error count, so a single mistake is still visible.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.confusion: np.ndarray | None = None
        self.per_class: np.ndarray | None = None
        self.setMinimumSize(420, 340)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_data(self, confusion: np.ndarray | None, per_class: np.ndarray | None) -> None:
        self.confusion, self.per_class = confusion, per_class
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(560, 440)

    def paintEvent(self, event: object) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.Text)
        muted = pal.color(QPalette.ColorRole.PlaceholderText)
        if self.confusion is None or self.per_class is None:
            painter.setPen(muted)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No results yet")
            return
        m = self.confusion
        label_w, head_h, bar_w = 44, 40, 130
        cell = max(12.0, min((self.width() - label_w - bar_w - 16) / 10,
                             (self.height() - head_h - 24) / 10))
        # Centred: the matrix and its bars read as one figure however wide the page is.
        x0 = label_w + max(0.0, (self.width() - (label_w + 10 * cell + 16 + bar_w)) / 2)
        y0 = head_h
        font = QFont(self.font())
        small = QFont(font)
        small.setPointSizeF(max(7.0, font.pointSizeF() * min(1.0, cell / 40)))
        painter.setPen(muted)
        painter.drawText(QRectF(x0, 0, 10 * cell, 18), Qt.AlignmentFlag.AlignCenter, "predicted")
        painter.save()
        painter.translate(x0 - label_w + 12, y0 + 5 * cell)
        painter.rotate(-90)
        painter.drawText(QRectF(-40, -10, 80, 20), Qt.AlignmentFlag.AlignCenter, "true")
        painter.restore()
        painter.setPen(text)
        for d in range(10):
            painter.drawText(QRectF(x0 + d * cell, 18, cell, head_h - 20),
                             Qt.AlignmentFlag.AlignCenter, str(d))
            painter.drawText(QRectF(x0 - label_w + 22, y0 + d * cell, label_w - 26, cell),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, str(d))
        rows = np.maximum(m.sum(axis=1, keepdims=True), 1)
        off = m.copy()
        np.fill_diagonal(off, 0)
        worst = max(1, int(off.max()))
        base = pal.color(QPalette.ColorRole.Base)
        good, bad = QColor(SERIES_COLORS[0]), QColor(BAD_COLOR)
        painter.setFont(small)
        for r in range(10):
            for c in range(10):
                count = int(m[r, c])
                share = (count / rows[r, 0]) if r == c else (count / worst) ** 0.5
                tone = good if r == c else bad
                fill = _blend(base, tone, 0.0 if count == 0 else 0.10 + 0.80 * share)
                rect = QRectF(x0 + c * cell + 1, y0 + r * cell + 1, cell - 2, cell - 2)
                painter.fillRect(rect, fill)
                if count:
                    painter.setPen(QColor("white") if fill.lightness() < 140 else QColor("black"))
                    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"{count}")
        self._paint_bars(painter, x0 + 10 * cell + 16, y0, cell, bar_w, text, muted)

    def _paint_bars(self, painter: QPainter, x: float, y0: float, cell: float, width: float,
                    text: QColor, muted: QColor) -> None:
        """Per-class accuracy, one bar per row; the scale starts at the worst class minus a bit."""
        acc = self.per_class
        painter.setFont(self.font())
        painter.setPen(muted)
        painter.drawText(QRectF(x, 18, width, 20), Qt.AlignmentFlag.AlignLeft, "per-class accuracy")
        low = max(0.0, float(np.floor(acc.min())) - 1.0)
        bar_space = width - 58
        painter.drawText(QRectF(x, y0 + 10 * cell + 2, width + 40, 18),
                         Qt.AlignmentFlag.AlignLeft, f"scale: {low:g}–100%")
        for d in range(10):
            frac = (acc[d] - low) / max(1e-9, 100.0 - low)
            top = y0 + d * cell + cell * 0.25
            painter.fillRect(QRectF(x, top, bar_space, cell * 0.5),
                             _blend(self.palette().color(QPalette.ColorRole.Base), muted, 0.18))
            painter.fillRect(QRectF(x, top, bar_space * frac, cell * 0.5), QColor(SERIES_COLORS[5]))
            painter.setPen(text)
            painter.drawText(QRectF(x + bar_space + 4, y0 + d * cell, 56, cell),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             f"{acc[d]:.1f}%")


def _blend(a: QColor, b: QColor, t: float) -> QColor:
    t = min(1.0, max(0.0, t))
    return QColor(round(a.red() + (b.red() - a.red()) * t),
                  round(a.green() + (b.green() - a.green()) * t),
                  round(a.blue() + (b.blue() - a.blue()) * t))


def export_onnx(run_id: str, path: str) -> str:  # a job: torch, onnx, onnxruntime
    from core.runs.store import RunStore
    from core.workflows.export import export_run

    return str(export_run(RunStore().get(run_id), Path(path)).path)


def export_for_draw(run_id: str) -> str:  # a job: the one path shared with the Compare tab
    from core.workflows.export import export_run_for_draw

    return str(export_run_for_draw(run_id))


class ResultsView(QWidget):
    """One run's results: summary line, export buttons, confusion matrix, misclassified gallery.

    `show_run(run_id)` evaluates in a job; `ready` fires when the results are on screen.
    Exports run as jobs too; errors go out through `failed(title, exception)`.
    """

    ready = Signal()
    try_in_draw = Signal(str)  # path of the exported .onnx
    status_message = Signal(str)
    failed = Signal(str, object)  # dialog title, exception

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        head = QHBoxLayout()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        head.addWidget(self.summary, 1)
        self.export_button = QPushButton("Export ONNX…")
        self.export_button.setToolTip("Save the checkpoint shown here (best when picked on "
                                      "validation, else last) as a verified .onnx file")
        self.export_button.clicked.connect(self.export_dialog)
        self.try_button = QPushButton("Try in Draw tab")
        self.try_button.setToolTip("Export (if not done yet) and open the model in the Draw tab")
        self.try_button.clicked.connect(self.try_in_draw_clicked)
        for button in (self.export_button, self.try_button):
            head.addWidget(button)
        layout.addLayout(head)
        self.note = QLabel()  # why these results are shown, when they are not the latest run's
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setWordWrap(True)
        self.note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.note.setVisible(False)
        layout.addWidget(self.note)
        self.matrix = ConfusionMatrix()
        layout.addWidget(self.matrix, 3)
        self.gallery_title = QLabel()
        layout.addWidget(self.gallery_title)
        self.gallery = QListWidget()
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setIconSize(QSize(56, 56))
        self.gallery.setGridSize(QSize(70, 78))
        self.gallery.setMovement(QListView.Movement.Static)
        self.gallery.setResizeMode(QListView.ResizeMode.Adjust)
        self.gallery.setUniformItemSizes(True)
        self.gallery.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        layout.addWidget(self.gallery, 2)
        self.results: RunResults | None = None
        self.run_id = ""
        self.evaluation = JobRunner(self)  # one at a time: a newer run replaces the older
        self.exports = JobRunner(self)
        self._exported: dict[str, str] = {}  # run id → .onnx written this session
        self.clear()

    def clear(self, text: str = "Results appear here when a run finishes.") -> None:
        self.results = None
        self.set_note("")
        self.summary.setText(text)
        self.matrix.set_data(None, None)
        self.gallery.clear()
        self.gallery_title.clear()
        self.set_actions_enabled(False)

    def set_note(self, text: str) -> None:
        """A line above the results saying whose they are; "" hides it."""
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def set_actions_enabled(self, enabled: bool) -> None:
        self.export_button.setEnabled(enabled)
        self.try_button.setEnabled(enabled)

    def show_run(self, run_id: str) -> None:
        """Evaluate `run_id`'s default checkpoint in a job, then show it."""
        self.run_id = run_id
        self.clear("Evaluating the run on the test set…")
        self.evaluation.start(evaluation_job, run_id, on_done=self.show_results,
                              on_error=self._evaluation_failed)

    @Slot(object)
    def show_results(self, results: RunResults) -> None:
        if results.run_id != self.run_id:
            return  # a newer run was asked for meanwhile
        self.results = results
        self.set_note("")
        self.summary.setText(  # the run id is a folder name: escaped, never markup
            f"<b>{results.accuracy:.2f}%</b> test accuracy · {results.n_wrong} errors in "
            f"{results.n_test:,} test digits · "
            f"{html.escape(results.checkpoint_label or results.checkpoint + ' checkpoint')} of "
            f"<span style='color:gray'>{html.escape(results.run_id)}</span>")
        self.matrix.set_data(results.confusion, results.per_class)
        self.gallery.clear()
        for image, index, true, pred in zip(results.wrong_images, results.wrong_index,
                                            results.wrong_true, results.wrong_pred, strict=True):
            item = QListWidgetItem(QIcon(gray_pixmap(image)), f"{true} → {pred}")
            item.setToolTip(f"Test image #{index}: a {true}, read as {pred}")
            self.gallery.addItem(item)
        shown = len(results.wrong_index)
        more = f" (first {shown} shown)" if shown < results.n_wrong else ""
        self.gallery_title.setText(f"<b>Misclassified test digits</b> · true → predicted{more}")
        self.set_actions_enabled(True)
        self.ready.emit()

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Wait up to `timeout` s for an evaluation or export; False if one still runs."""
        return shutdown_all([self.evaluation, self.exports], timeout)

    @Slot(object)
    def _evaluation_failed(self, error: BaseException) -> None:
        self.clear(f"Could not evaluate the run: {html.escape(str(error))}")
        self.failed.emit("Cannot show results", error)

    # --- export -----------------------------------------------------------------------------

    @Slot()
    def export_dialog(self) -> None:
        from app.shared.dialogs import ONNX_FILES, ONNX_FILTER, save_file

        # The exports folder first, then wherever the last ONNX file was chosen.
        path = save_file(self, "Export ONNX", ONNX_FILTER, ONNX_FILES, f"{self.run_id}.onnx")
        if path is not None:
            self.export_to(str(path))

    def export_to(self, path: str, then_try: bool = False) -> None:
        """Export the shown run to `path` in a job; then emit `try_in_draw` if asked."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.set_actions_enabled(False)
        self.status_message.emit(f"Exporting {self.run_id} to {path}…")
        self.exports.start(export_onnx, self.run_id, path,
                           on_done=self._exported_then_try if then_try else self._exported_done,
                           on_error=self._export_failed)

    @Slot(object)
    def _exported_done(self, path: str) -> None:
        self._exported[self.run_id] = path
        self.set_actions_enabled(self.results is not None)
        self.status_message.emit(f"Exported {path} (checked against torch).")

    @Slot(object)
    def _exported_then_try(self, path: str) -> None:
        self._exported_done(path)
        self.try_in_draw.emit(path)

    @Slot(object)
    def _export_failed(self, error: BaseException) -> None:
        self.set_actions_enabled(self.results is not None)
        self.failed.emit("Export failed", error)

    @Slot()
    def try_in_draw_clicked(self) -> None:
        path = self._exported.get(self.run_id)
        if path and Path(path).is_file():
            self.try_in_draw.emit(path)
            return
        self.set_actions_enabled(False)
        self.status_message.emit(f"Exporting {self.run_id} to try it in the Draw tab…")
        self.exports.start(export_for_draw, self.run_id, on_done=self._exported_then_try,
                           on_error=self._export_failed)
