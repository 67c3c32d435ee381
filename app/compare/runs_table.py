"""The runs table: one row per run folder, sortable by the numbers behind the text.

The model holds what `RunStore.list_runs()` gives, healthy `RunRecord`s (with their summaries)
and `DamagedRun`s, as rows of `app.compare.run_cells`, which also says what every cell shows; it
never touches the disk. Renaming through the name cell only emits `rename_requested`: the tab
owns the store.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QApplication, QHeaderView, QTableView, QWidget

from app.compare.run_cells import (
    BADGES,
    COLUMNS,
    Col,
    DamagedRow,
    Row,
    RunEntry,
    RunRow,
    alignment,
    cell_text,
    foreground,
    is_empty,
    row_of,
    sort_key,
    tooltip,
)
from app.shared.dialogs import plain_tooltip

__all__ = ["RUN_ID_ROLE", "SORT_ROLE", "Col", "RunsProxyModel", "RunsTableModel",
           "RunsTableView", "is_empty"]

SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # numbers (or casefolded text) to sort by
RUN_ID_ROLE = Qt.ItemDataRole.UserRole + 2  # the run id, from any cell of a row

Index = QModelIndex | QPersistentModelIndex


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


class RunsTableModel(QAbstractTableModel):
    rename_requested = Signal(str, str)  # run id, new name

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Row] = []
        self._colors: dict[str, str] = {}  # run id → curve colour, for plotted runs
        self._fingerprint = ""
        self._bold = QFont()
        self._bold.setBold(True)
        self._italic = QFont()
        self._italic.setItalic(True)

    # -- contents -----------------------------------------------------------------------------
    def set_records(self, records: Sequence[RunEntry], my_digits_fingerprint: str = "") -> None:
        """Newest first, damaged runs among the healthy ones. Same runs in the same order →
        dataChanged, so selection and edits live.

        `my_digits_fingerprint` names the user's current set of drawn digits: a score taken on
        another set is shown as out of date.
        """
        self._fingerprint = my_digits_fingerprint
        rows = [row_of(r) for r in sorted(records, key=lambda r: r.created, reverse=True)]
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

    def rows(self) -> list[Row]:
        return list(self._rows)

    def row_at(self, row: int) -> Row:
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
            return alignment(Col(section))
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = super().flags(index)
        if (index.isValid() and index.column() == Col.NAME and 0 <= index.row() < len(self._rows)
                and isinstance(self._rows[index.row()], RunRow)):  # a damaged run: Delete only
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or index.column() != Col.NAME or not index.isValid():
            return False
        name = str(value).strip()
        row = self._rows[index.row()]
        record = row.record
        if isinstance(row, RunRow) and name and name != record.name:
            self.rename_requested.emit(record.id, name)
        return True

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, col = self._rows[index.row()], Col(index.column())
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return row.record.name if role == Qt.ItemDataRole.EditRole else cell_text(row, col)
        if role == SORT_ROLE:
            return sort_key(row, col)
        if role == RUN_ID_ROLE:
            return row.record.id
        stale = col == Col.MY_DIGITS and self._score_is_stale(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = tooltip(row, col)
            if stale:
                tip = f"{tip}\nYour digits changed since: score again to update."
            return plain_tooltip(tip) if tip else None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return alignment(col)
        if role == Qt.ItemDataRole.ForegroundRole:
            if stale:
                return QApplication.palette().brush(QPalette.ColorRole.PlaceholderText)
            return foreground(row, col)
        if role == Qt.ItemDataRole.FontRole:
            if isinstance(row, DamagedRow):
                return self._italic  # set apart from the runs that hold numbers
            return self._bold if col in BADGES else None  # thin ✓/✗ glyphs read poorly
        if role == Qt.ItemDataRole.DecorationRole and col == Col.NAME:
            color = self._colors.get(row.record.id)
            if not color:
                return None
            ring = QApplication.palette().color(QPalette.ColorRole.HighlightedText)
            return swatch(color, ring.name())
        return None

    def _score_is_stale(self, row: Row) -> bool:
        if not isinstance(row, RunRow):
            return False
        my = row.record.scores.get("my_digits")
        stored = my.get("fingerprint") if isinstance(my, dict) else None
        return bool(stored and self._fingerprint and stored != self._fingerprint)


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
                and is_empty(model.row_at(source_row))):
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
