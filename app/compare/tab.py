"""The Compare tab: every stored run in one sortable table, selected runs overlaid as curves.

A thin layer over `core.runs.store` (the store) and `core.runs.report` (summaries, Markdown);
what can be done to runs lives in `app.compare.actions`. A damaged run folder is a row too,
saying what is wrong, so it can be deleted; nothing else uses it. Torch is never imported
here: scoring on My digits and ONNX export import it inside a worker thread, so the tab costs
nothing at start-up.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QPoint, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QPalette, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.compare.actions import RunActions
from app.compare.experiments_view import add_experiments_button
from app.compare.plots import ComparePlots, assign_color_slots, series_from_record
from app.compare.run_cells import DamagedRow, RunEntry, RunRow, is_empty, meets_all_targets
from app.compare.runs_table import (
    RUN_ID_ROLE,
    Col,
    RunsProxyModel,
    RunsTableModel,
    RunsTableView,
)
from app.shared.jobs import shutdown_all
from app.shared.style import series_color
from app.shared.wording import plural
from core.experiments.curves import recipe_curves
from core.runs.store import RunRecord, RunStore

EMPTY_TEXT = ("<p style='font-size:13pt'>No runs yet</p>"
              "<p>Train one in the Train tab or with <code>digitlab-cli train</code>.<br>"
              "Every run is kept on disk and shows up here, with its curves, as it trains.</p>")


def _my_digits_fingerprint(records: list[RunRecord]) -> str:
    """Which drawn digits the user has now; looked at only when some run holds a score."""
    if not any("my_digits" in r.scores for r in records):
        return ""
    from core.data.my_digits import MyDigits  # numpy and Pillow only

    try:
        return MyDigits().fingerprint()
    except OSError:  # an unreadable My digits folder: show scores without the staleness hint
        return ""


class CompareTab(QWidget):
    status_message = Signal(str)
    resume_requested = Signal(str)  # run id; the Train tab resumes it
    try_in_draw = Signal(str)  # path of a freshly exported .onnx

    POLL_MS = 2000  # how often a visible tab looks for runs made elsewhere (the CLI)

    def __init__(self, store: RunStore | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store or RunStore()
        self._signature: tuple[Any, ...] | None = None  # what the table shows, to skip no-ops
        self._disk_signature: tuple[Any, ...] | None = None
        self._color_slots: dict[str, int] = {}  # run id → series index, stable while selected
        self._plotted: tuple[Any, ...] = ()
        self._one_experiment = False  # the selection is trials of one experiment (bands on)
        self._user_sized = False  # the user dragged the table/plots splitter

        self.model = RunsTableModel(self)
        self.proxy = RunsProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.view = RunsTableView()
        self.view.setModel(self.proxy)
        self.plots = ComparePlots()
        self.actions = RunActions(self.store, self.selected_entries, self.listed_records, self)
        self._build_layout()

        self.actions.status_message.connect(self.status_message)
        self.actions.resume_requested.connect(self.resume_requested)
        self.actions.try_in_draw.connect(self.try_in_draw)
        self.actions.edit_name.connect(self._edit_name)
        self.actions.store_changed.connect(self.refresh, Qt.ConnectionType.QueuedConnection)
        self.model.rename_requested.connect(self.actions.rename_run)
        self.view.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.plots.banding_changed.connect(self._on_selection_changed)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.filter_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self._poll_timer = QTimer(self, interval=self.POLL_MS, timeout=self._poll)
        self._fit_timer = QTimer(self, singleShot=True, interval=0, timeout=self._fit_table_height)
        self.refresh()

    def _build_layout(self) -> None:
        a = self.actions
        bar = QHBoxLayout()
        bar.setSpacing(6)
        for action in (a.resume, a.rename, a.delete, None, a.score, a.try_draw):
            if action is None:
                bar.addSpacing(14)  # edits on the left, work that loads a model on the right
                continue
            button = QToolButton()
            button.setDefaultAction(action)
            bar.addWidget(button)
        bar.addStretch(1)
        self.filter_edit = QLineEdit(placeholderText="Filter runs…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setFixedWidth(200)
        self.filter_edit.setToolTip("Show only runs whose name, model or status contains this.")
        bar.addWidget(self.filter_edit)
        self.show_empty = QCheckBox("Show empty runs")
        self.show_empty.setToolTip("Also list runs that ended before their first epoch "
                                   "(stopped at once, or failed before training, such as a "
                                   "download without network).")
        self.show_empty.toggled.connect(self._show_empty_toggled)
        bar.addWidget(self.show_empty)
        export = QToolButton(text="Export table")
        export.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(export)
        menu.addActions([a.save_markdown, a.copy_markdown])
        export.setMenu(menu)
        bar.addWidget(export)
        add_experiments_button(bar, self)  # runs grouped by experiment, in a window

        self.view.addAction(a.delete)  # the Delete key, while the table has focus
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.summary_label = QLabel()
        # Secondary text: the palette's muted colour, which follows light and dark.
        self.summary_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        table_box = QWidget()
        table_layout = QVBoxLayout(table_box)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.setSpacing(4)
        table_layout.addWidget(self.view)
        table_layout.addWidget(self.summary_label)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(table_box)
        self.splitter.addWidget(self.plots)
        self.splitter.setStretchFactor(1, 1)  # on resize the plots grow, the table keeps its rows
        self.splitter.splitterMoved.connect(self._splitter_dragged)

        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.setSpacing(8)
        content_layout.addLayout(bar)
        content_layout.addWidget(self.splitter, 1)
        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.addWidget(self.stack)

    # -- reading the store --------------------------------------------------------------------
    @Slot()
    def refresh(self) -> None:
        """Re-read the run store; keeps the selection, and does nothing when nothing changed."""
        if self.view.state() == QAbstractItemView.State.EditingState:
            return  # a reset would throw away the name being typed; the next poll catches up
        # Damaged runs too: listed as such (saying what is wrong), so they can be deleted.
        entries = self.store.list_runs()
        fingerprint = _my_digits_fingerprint([r for r in entries if isinstance(r, RunRecord)])
        # Whole records, not `updated` stamps: those have one-second resolution.
        signature = (fingerprint, *((r, r.effective_status) for r in entries))
        self._disk_signature = self._scan_disk()
        if signature == self._signature:
            return
        self._signature = signature
        keep = self.selected_ids()
        self.model.set_records(entries, fingerprint)
        self.select_runs(keep)
        self.stack.setCurrentIndex(1 if entries else 0)
        self._fit_timer.start()
        self._on_selection_changed()

    def _scan_disk(self) -> tuple[Any, ...]:
        """Folder names and run.json change times: a cheap test for 'something changed'."""
        found = []
        try:
            with os.scandir(self.store.root) as entries:
                for entry in entries:
                    try:
                        stamp = os.stat(Path(entry.path, "run.json")).st_mtime_ns
                    except OSError:
                        stamp = 0
                    found.append((entry.name, stamp))
        except OSError:
            return ()
        return tuple(sorted(found))

    @Slot()
    def _poll(self) -> None:
        running = any(isinstance(row, RunRow) and row.summary.status == "running"
                      for row in self.model.rows())
        # A running run can die without touching its file; then its status must still change.
        if running or self._scan_disk() != self._disk_signature:
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()
        self._poll_timer.start()

    def hideEvent(self, event: Any) -> None:
        self._poll_timer.stop()
        super().hideEvent(event)

    # -- layout -------------------------------------------------------------------------------
    def _fit_table_height(self) -> None:
        """The table as tall as its rows (at most half), the plots get the rest; until the user
        drags the splitter, after which their choice stands."""
        total = sum(self.splitter.sizes())
        if self._user_sized or total <= 0:
            return
        view = self.view
        wanted = (view.horizontalHeader().sizeHint().height() + 2 * view.frameWidth() + 10
                  + max(self.proxy.rowCount(), 3) * view.verticalHeader().defaultSectionSize()
                  + self.summary_label.sizeHint().height())
        if view.horizontalHeader().length() > view.viewport().width():
            wanted += view.horizontalScrollBar().sizeHint().height()
        table = min(wanted, total // 2)
        self.splitter.setSizes([table, total - table])

    @Slot()
    def _splitter_dragged(self) -> None:
        self._user_sized = True

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._fit_timer.start()  # after the layouts settled: column widths decide the scrollbar

    # -- selection ----------------------------------------------------------------------------
    def selected_ids(self) -> list[str]:
        """Selected run ids, top to bottom as the table shows them."""
        rows = sorted(self.view.selectionModel().selectedRows(), key=lambda i: i.row())
        return [str(i.data(RUN_ID_ROLE)) for i in rows]

    def _entries(self, ids: list[str]) -> list[RunEntry]:
        by_id = {row.record.id: row.record for row in self.model.rows()}
        return [by_id[i] for i in ids if i in by_id]

    def selected_entries(self) -> list[RunEntry]:
        """Selected runs, damaged ones included (they can be deleted, nothing else)."""
        return self._entries(self.selected_ids())

    def selected_records(self) -> list[RunRecord]:
        """Selected healthy runs: what plots, Markdown, scoring, resume and export work on."""
        return [r for r in self.selected_entries() if isinstance(r, RunRecord)]

    def listed_records(self) -> list[RunRecord]:
        """Every healthy run the table shows (after the filter), in its order."""
        ids = [str(self.proxy.index(r, 0).data(RUN_ID_ROLE)) for r in range(self.proxy.rowCount())]
        return [r for r in self._entries(ids) if isinstance(r, RunRecord)]

    def select_runs(self, run_ids: list[str]) -> None:
        selection = QItemSelection()
        for run_id in run_ids:
            row = self.model.row_of(run_id)
            index = self.proxy.mapFromSource(self.model.index(row, 0)) if row >= 0 else None
            if index is not None and index.isValid():
                selection.select(index, index)
        flags = (QItemSelectionModel.SelectionFlag.ClearAndSelect
                 | QItemSelectionModel.SelectionFlag.Rows)
        self.view.selectionModel().select(selection, flags)

    @Slot()
    def _on_selection_changed(self) -> None:
        records = self.selected_records()
        self._color_slots = assign_color_slots(self._color_slots, [r.id for r in records])
        colors = {i: series_color(s) for i, s in self._color_slots.items()}
        groups = recipe_curves(records, ("test_acc", "train_loss", "test_loss"))
        # Trials of one experiment are shown as bands by default; other runs on request.
        tags = {(r.experiment or {}).get("name") for r in records}
        one_experiment = len(records) > 1 and len(tags) == 1 and None not in tags
        if one_experiment != self._one_experiment:
            self._one_experiment = one_experiment
            self.plots.set_banding(one_experiment)
        group_colors = [colors[c.run_ids[0]] for c in groups]
        banding = self.plots.bands_box.isChecked() and any(c.n > 1 for c in groups)
        if banding:  # a run's row takes its recipe's colour, the colour of its band
            colors |= {run_id: color for c, color in zip(groups, group_colors, strict=True)
                       for run_id in c.run_ids}
        self.model.set_colors(colors)
        plotted = (banding, *((r.id, r.name, colors[r.id], r.history) for r in records))
        if plotted != self._plotted:  # curves are rebuilt only when what they show changed
            self._plotted = plotted
            self.plots.set_series([series_from_record(r, colors[r.id]) for r in records],
                                  groups, group_colors)
        self.actions.update_enabled()
        self._update_summary()

    def _update_summary(self) -> None:
        rows = self.model.rows()
        winners = sum(meets_all_targets(r) for r in rows)
        hidden = 0 if self.proxy.show_empty else sum(is_empty(r) for r in rows)
        damaged = sum(isinstance(r, DamagedRow) for r in rows)
        shown = len(rows) - hidden - damaged  # healthy runs in view
        parts = [plural(shown, "run"), f"{winners} meet{'s' * (winners == 1)} all three targets"]
        if damaged:
            parts.append(f"{damaged} damaged (select and Delete)")
        if hidden:
            parts.append(f"{plural(hidden, 'empty run')} hidden")
        selected = len(self.selected_ids())
        if selected:
            parts.append(f"{selected} selected")
        self.summary_label.setText("  ·  ".join(parts))

    @Slot(bool)
    def _show_empty_toggled(self, show: bool) -> None:
        self.proxy.set_show_empty(show)
        self._fit_timer.start()
        self._on_selection_changed()

    @Slot(str)
    def _edit_name(self, run_id: str) -> None:
        source = self.model.index(self.model.row_of(run_id), Col.NAME)
        self.view.edit(self.proxy.mapFromSource(source))

    @Slot(QPoint)
    def _context_menu(self, pos: QPoint) -> None:
        a = self.actions
        menu = QMenu(self)
        menu.addActions([a.resume, a.rename, a.delete])
        menu.addSeparator()
        menu.addActions([a.score, a.try_draw])
        menu.addSeparator()
        menu.addActions([a.save_markdown, a.copy_markdown])
        menu.exec(self.view.viewport().mapToGlobal(pos))

    # -- for the main window ------------------------------------------------------------------
    def is_busy(self) -> bool:
        """True while scoring or an ONNX export runs in a worker thread."""
        return self.actions.is_busy()

    def shutdown(self, timeout: float = 30.0) -> bool:
        """For the window's close: wait up to `timeout` s for a scoring or export job (they
        cannot be interrupted half-way). False if it still runs."""
        dialog = getattr(self, "_experiments_dialog", None)  # its importance job, if any
        jobs = [self.actions.jobs] + ([dialog.view.insight.jobs, dialog.view.jobs]
                                     if dialog is not None else [])
        return shutdown_all(jobs, timeout)
