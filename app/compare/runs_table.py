"""The runs table: one row per stored run, sortable by the numbers behind the text.

The model holds `RunRecord`s and their `RunSummary`s from `core.runs.report`; it never touches the
disk. Renaming through the name cell only emits `rename_requested`: the tab owns the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from functools import cache
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QRectF,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QApplication, QHeaderView, QTableView, QWidget

from app.shared.dialogs import plain_tooltip
from app.shared.style import BAD_COLOR, OK_COLOR
from core.runs.report import (
    EPOCH_BUDGET,
    PARAM_BUDGET,
    TARGET_ACCURACY,
    RunSummary,
    format_seconds,
    summarize_run,
)
from core.runs.store import RunRecord

SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # numbers (or casefolded text) to sort by
RUN_ID_ROLE = Qt.ItemDataRole.UserRole + 2  # the run id, from any cell of a row

Index = QModelIndex | QPersistentModelIndex


class Col(IntEnum):
    """Column order: the numbers the targets judge, then the verdicts beside them, then the rest
    (on a narrow window the table scrolls sideways, and what is cut off matters least)."""

    NAME = 0
    MODEL = 1
    PARAMS = 2
    RF = 3
    BEST = 4
    FINAL = 5
    LAST3 = 6
    EPOCHS = 7
    HITS_ACC = 8
    HITS_PARAMS = 9
    HITS_EPOCHS = 10
    STATUS = 11
    MY_DIGITS = 12
    TIME = 13
    DEVICE = 14


# (header, header tooltip, preferred width in px)
COLUMNS: dict[Col, tuple[str, str, int]] = {
    Col.NAME: ("Name", "Run name; double-click or F2 to rename.", 170),
    Col.MODEL: ("Model", "Model from the zoo.", 120),
    Col.PARAMS: ("Params", "Trainable parameters.", 62),
    Col.RF: ("RF", "Receptive field of the last layer, in pixels.", 44),
    Col.BEST: ("Best", "Highest test accuracy over all epochs: the epoch was picked on test, "
                       "so this figure is optimistic; Final is the fair one.", 64),
    Col.FINAL: ("Final", "Test accuracy after the last completed epoch.", 64),
    Col.LAST3: ("Last 3 epochs", "Test accuracy (%) of the last three epochs, oldest first.", 138),
    Col.EPOCHS: ("Epochs", "Epochs completed (of those planned, when fewer).", 58),
    Col.HITS_ACC: (f"≥{TARGET_ACCURACY:g}%",
                   f"Test accuracy ≥ {TARGET_ACCURACY:g}% in each of the last three epochs.", 58),
    Col.HITS_PARAMS: (f"<{PARAM_BUDGET // 1000}k",
                      f"Fewer than {PARAM_BUDGET:,} parameters.", 44),
    Col.HITS_EPOCHS: (f"≤{EPOCH_BUDGET} ep", f"At most {EPOCH_BUDGET} epochs.", 52),
    Col.STATUS: ("Status", "completed, stopped, failed, interrupted or running.", 84),
    Col.MY_DIGITS: ("My digits", "Accuracy on the digits you drew in the Draw tab.", 74),
    Col.TIME: ("Time", "Training and evaluation time over all epochs.", 64),
    Col.DEVICE: ("Device", "Where it trained.", 70),
}

NUMERIC = {Col.PARAMS, Col.RF, Col.BEST, Col.FINAL, Col.LAST3, Col.EPOCHS, Col.TIME,
           Col.MY_DIGITS}
BADGES = {Col.HITS_ACC, Col.HITS_PARAMS, Col.HITS_EPOCHS}

STATUS_HELP = {
    "completed": "Trained for every planned epoch.",
    "stopped": "Stopped by you before the last epoch.",
    "failed": "Training raised an error.",
    "interrupted": "The process training it ended mid-run (closed or crashed).",
    "running": "Training now.",
    "created": "Created, no epoch trained yet.",
}


def short_device(label: str) -> str:
    """'NVIDIA H100 80GB HBM3 (cuda:0)' → 'H100'; 'CPU: x86_64, 2 threads' → 'CPU'.

    The full label is the cell's tooltip; the column only needs to tell machines apart.
    """
    if not label:
        return "–"
    if label.startswith("CPU"):
        return "CPU"
    label = re.sub(r"\s*\((cuda:\d+|mps)\)$", "", label)
    label = re.sub(r"^NVIDIA (GeForce )?", "", label)
    return re.sub(r"\s+\d+\s*GB\b.*$", "", label) or label


def _local_time(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


@cache  # data() is asked on every repaint; a handful of colours ever exist
def swatch(color: str, ring: str, size: int = 12) -> QIcon:
    """A round dot in a curve's colour beside the names of plotted runs. Those rows are
    selected, so a ring in the highlighted-text colour keeps a blue dot visible on blue."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor(ring), 1.5))
    painter.setBrush(QColor(color))
    painter.drawEllipse(QRectF(1, 1, size - 2, size - 2))
    painter.end()
    return QIcon(pixmap)


@dataclass(frozen=True)
class RunRow:
    record: RunRecord
    summary: RunSummary


class RunsTableModel(QAbstractTableModel):
    rename_requested = Signal(str, str)  # run id, new name

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[RunRow] = []
        self._colors: dict[str, str] = {}  # run id → curve colour, for plotted runs
        self._fingerprint = ""
        self._bold = QFont()
        self._bold.setBold(True)

    # -- contents -----------------------------------------------------------------------------
    def set_records(self, records: list[RunRecord], my_digits_fingerprint: str = "") -> None:
        """Newest first. Same runs in the same order → dataChanged, so selection and edits live.

        `my_digits_fingerprint` names the user's current set of drawn digits: a score taken on
        another set is shown as out of date.
        """
        self._fingerprint = my_digits_fingerprint
        rows = [RunRow(r, summarize_run(r)) for r in sorted(records, key=lambda r: r.created,
                                                           reverse=True)]
        if [r.record.id for r in rows] == [r.record.id for r in self._rows]:
            self._rows = rows
            if rows:
                self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(Col) - 1))
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def set_colors(self, colors: dict[str, str]) -> None:
        if colors == self._colors:
            # Nothing to repaint; and a dataChanged here can make the proxy re-filter and the
            # selection model report a change, which would call this again, without end.
            return
        self._colors = dict(colors)
        if self._rows:
            self.dataChanged.emit(self.index(0, Col.NAME), self.index(len(self._rows) - 1,
                                                                      Col.NAME),
                                  [Qt.ItemDataRole.DecorationRole])

    def rows(self) -> list[RunRow]:
        return list(self._rows)

    def row_at(self, row: int) -> RunRow:
        return self._rows[row]

    def row_of(self, run_id: str) -> int:
        return next((i for i, r in enumerate(self._rows) if r.record.id == run_id), -1)

    # -- Qt model interface -------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Col)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(Col):
            return None
        header, tip, _ = COLUMNS[Col(section)]
        if role == Qt.ItemDataRole.DisplayRole:
            return header
        if role == Qt.ItemDataRole.ToolTipRole:
            return tip
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _alignment(Col(section))
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = super().flags(index)
        if index.isValid() and index.column() == Col.NAME:
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or index.column() != Col.NAME or not index.isValid():
            return False
        name = str(value).strip()
        record = self._rows[index.row()].record
        if name and name != record.name:
            self.rename_requested.emit(record.id, name)
        return True

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, col = self._rows[index.row()], Col(index.column())
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return row.record.name if role == Qt.ItemDataRole.EditRole else _text(row, col)
        if role == SORT_ROLE:
            return _sort_key(row, col)
        if role == RUN_ID_ROLE:
            return row.record.id
        stale = col == Col.MY_DIGITS and self._score_is_stale(row.record)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = _tooltip(row, col)
            if stale:
                tip = f"{tip}\nYour digits changed since: score again to update."
            return plain_tooltip(tip) if tip else None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _alignment(col)
        if role == Qt.ItemDataRole.ForegroundRole:
            if stale:
                return QApplication.palette().brush(QPalette.ColorRole.PlaceholderText)
            return _foreground(row.summary, col)
        if role == Qt.ItemDataRole.FontRole and col in BADGES:
            return self._bold  # thin ✓/✗ glyphs read poorly at table size
        if role == Qt.ItemDataRole.DecorationRole and col == Col.NAME:
            color = self._colors.get(row.record.id)
            if not color:
                return None
            ring = QApplication.palette().color(QPalette.ColorRole.HighlightedText)
            return swatch(color, ring.name())
        return None

    def _score_is_stale(self, record: RunRecord) -> bool:
        my = record.scores.get("my_digits")
        stored = my.get("fingerprint") if isinstance(my, dict) else None
        return bool(stored and self._fingerprint and stored != self._fingerprint)


def is_empty(s: RunSummary) -> bool:
    """No epoch trained and not training now: stopped at once, or failed (a download) before."""
    return s.epochs_done == 0 and s.status != "running"


def badges(s: RunSummary) -> dict[Col, bool | None]:
    """Each target met (True), missed (False), or not judged yet (None: no epoch trained, so
    there is no accuracy and no epoch count to hold against the target)."""
    trained = s.epochs_done > 0
    return {Col.HITS_ACC: s.meets_accuracy if trained else None,
            Col.HITS_PARAMS: s.meets_params,
            Col.HITS_EPOCHS: s.meets_epochs if trained else None}


def _pct(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}%"


def _text(row: RunRow, col: Col) -> str:
    s = row.summary
    match col:
        case Col.NAME:
            return s.name
        case Col.MODEL:
            return s.model
        case Col.PARAMS:
            return f"{s.params:,}" if s.params else "–"
        case Col.RF:
            return str(s.receptive_field) if s.receptive_field else "–"
        case Col.BEST:
            return _pct(s.best_acc)
        case Col.FINAL:
            return _pct(s.final_acc)
        case Col.LAST3:
            return "  ".join(f"{a:.2f}" for a in s.last3) or "–"
        case Col.EPOCHS:
            done, planned = s.epochs_done, s.epochs_planned
            return f"{done}/{planned}" if planned and done < planned else str(done)
        case Col.TIME:
            return format_seconds(s.seconds) if s.seconds else "–"
        case Col.DEVICE:
            return short_device(s.device)
        case Col.STATUS:
            return s.status
        case Col.MY_DIGITS:
            return _pct(s.my_digits_acc, 1)
    verdict = badges(s)[col]
    return "–" if verdict is None else "✓" if verdict else "✗"


def _sort_key(row: RunRow, col: Col) -> Any:
    s = row.summary
    missing = -1.0  # runs without a number sort below every real one
    match col:
        case Col.PARAMS:
            return float(s.params)
        case Col.RF:
            return float(s.receptive_field)
        case Col.BEST:
            return missing if s.best_acc is None else float(s.best_acc)
        case Col.FINAL:
            return missing if s.final_acc is None else float(s.final_acc)
        case Col.LAST3:
            return float(min(s.last3)) if s.last3 else missing  # the worst of the three decides
        case Col.EPOCHS:
            return float(s.epochs_done)
        case Col.TIME:
            return float(s.seconds)
        case Col.MY_DIGITS:
            return missing if s.my_digits_acc is None else float(s.my_digits_acc)
        case Col.HITS_ACC | Col.HITS_PARAMS | Col.HITS_EPOCHS:
            verdict = badges(s)[col]
            return missing if verdict is None else float(verdict)
    return _text(row, col).casefold()


def _tooltip(row: RunRow, col: Col) -> str | None:
    """Tooltips quote run names and error messages from files: callers make them plain text."""
    s, r = row.summary, row.record
    if col in (Col.HITS_ACC, Col.HITS_EPOCHS) and badges(s)[col] is None:
        return "No epoch trained yet: nothing to hold against this target."
    match col:
        case Col.NAME:
            return f"{r.name}\nid {r.id}\nstarted {_local_time(r.created)}"
        case Col.DEVICE:
            return s.device or None
        case Col.STATUS:
            text = STATUS_HELP.get(s.status, s.status)
            if r.error:
                text += f"\n{r.error}"
            if r.resumable:
                text += (f"\nStopped after {s.epochs_done} of {s.epochs_planned} epochs: "
                         f"select it and press Resume to continue.")
            return text
        case Col.MY_DIGITS:
            my = r.scores.get("my_digits")
            if not isinstance(my, dict) or my.get("accuracy") is None:
                return "Not scored yet: select the run and press “Score on My digits”."
            return (f"{my['accuracy']:.1f}% of {my.get('n', '?')} digits you drew, "
                    f"scored {_local_time(str(my.get('when', '')))}")
        case Col.HITS_ACC:
            last3 = ", ".join(f"{a:.2f}%" for a in s.last3) or "none yet"
            verdict = "met" if s.meets_accuracy else "missed"
            return (f"Target {verdict}: test accuracy ≥ {TARGET_ACCURACY:g}% in each of the last "
                    f"three epochs.\nLast three: {last3}")
        case Col.HITS_PARAMS:
            verdict = "met" if s.meets_params else "missed"
            return f"Target {verdict}: fewer than {PARAM_BUDGET:,} parameters (has {s.params:,})."
        case Col.HITS_EPOCHS:
            verdict = "met" if s.meets_epochs else "missed"
            return f"Target {verdict}: at most {EPOCH_BUDGET} epochs (trained {s.epochs_done})."
    return COLUMNS[col][1]


def _alignment(col: Col) -> Qt.AlignmentFlag:
    if col in BADGES or col == Col.DEVICE:  # short labels; centring also parts Device from Time
        return Qt.AlignmentFlag.AlignCenter
    horizontal = Qt.AlignmentFlag.AlignRight if col in NUMERIC else Qt.AlignmentFlag.AlignLeft
    return horizontal | Qt.AlignmentFlag.AlignVCenter


def _foreground(s: RunSummary, col: Col) -> QBrush | None:
    if col in BADGES:
        verdict = badges(s)[col]
        if verdict is None:
            return QApplication.palette().brush(QPalette.ColorRole.PlaceholderText)
        return QBrush(QColor(OK_COLOR if verdict else BAD_COLOR))
    if col == Col.STATUS and s.status in ("failed", "interrupted"):
        return QBrush(QColor(BAD_COLOR))
    if col == Col.STATUS and s.status == "running":
        return QBrush(QColor(OK_COLOR))
    return None


class RunsProxyModel(QSortFilterProxyModel):
    """Sorts by SORT_ROLE (numbers stay numbers); filters on name, model and status. Empty runs
    (no epoch, not training) are left out unless `set_show_empty(True)`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setDynamicSortFilter(True)
        self.show_empty = False

    def set_show_empty(self, show: bool) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.9+: invalidateFilter is deprecated
            self.beginFilterChange()
            self.show_empty = show
            self.endFilterChange()
        else:
            self.show_empty = show
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        if (not self.show_empty and isinstance(model, RunsTableModel)
                and is_empty(model.row_at(source_row).summary)):
            return False
        pattern = self.filterRegularExpression().pattern()
        if not pattern:
            return True
        text = " ".join(str(model.index(source_row, c, source_parent).data() or "")
                        for c in (Col.NAME, Col.MODEL, Col.STATUS))
        return self.filterRegularExpression().match(text).hasMatch()


class RunsTableView(QTableView):
    """Row selection, several at once; only the name cell is editable (double-click or F2)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                             | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        # Newest first until the user picks a column: -1 keeps the model's own order.
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.setSortingEnabled(True)

    def setModel(self, model: Any) -> None:
        super().setModel(model)
        header = self.horizontalHeader()
        for col, (_, _, width) in COLUMNS.items():
            self.setColumnWidth(col, width)
        # The name takes whatever room is left; the numbers keep their widths.
        header.setSectionResizeMode(Col.NAME, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(36)
