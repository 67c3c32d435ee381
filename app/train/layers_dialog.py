"""The per-layer table of a zoo model (`core.models.layers.summarize`), computed on demand."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.shared.jobs import JobRunner
from app.shared.style import BAD_COLOR, OK_COLOR

COLUMNS = ("Layer", "Type", "Output shape", "Params", "RF", "Jump")


def model_summary(name: str) -> Any:  # a ModelSummary; runs in a job thread (imports torch)
    from core.models import build_model
    from core.models.layers import summarize

    return summarize(build_model(name))


class LayersDialog(QDialog):
    """Opens at once with "Building…", fills in when the summary arrives."""

    def __init__(self, model: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Layers of {model}")
        self.resize(720, 520)
        layout = QVBoxLayout(self)
        self.header = QLabel(f"Building {model}…")
        layout.addWidget(self.header)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.jobs = JobRunner(self)
        self.jobs.start(model_summary, model, on_done=self._show, on_error=self._failed)

    def _show(self, summary: Any) -> None:  # ModelSummary
        self.table.setRowCount(len(summary.rows))
        for r, row in enumerate(summary.rows):
            rf = "global" if row.is_global else f"{row.rf[0]}×{row.rf[1]}"
            cells = (row.name or "(model)", row.kind,
                     "×".join(str(d) for d in row.output_shape[1:]) or "-",
                     f"{row.params:,}" if row.params else "", rf, f"{max(row.jump)}")
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c >= 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        under = summary.total_params < summary.budget
        color = OK_COLOR if under else BAD_COLOR
        verdict = "under" if under else "over"
        self.header.setText(
            f"<b>{summary.total_params:,}</b> trainable parameters "
            f"(<span style='color:{color}'>{verdict} the {summary.budget:,} budget</span>) · "
            f"receptive field {summary.receptive_field} px, jump {summary.jump}"
            f"{' · global pooling' if summary.global_pool else ''}")

    def _failed(self, error: BaseException) -> None:
        self.header.setTextFormat(Qt.TextFormat.PlainText)
        self.header.setText(f"Could not build the model: {error}")
