"""What the Compare tab can do to runs: resume, rename, delete, score on My digits, export.

Kept apart from the tab's layout so each reads in one sitting. The actions work on whatever the
tab reports as selected (or listed); torch is only ever imported inside a worker thread. A
damaged run (`DamagedRun`: its record cannot be trusted) can only be deleted: every other action
works on the healthy runs of the selection.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QMessageBox, QWidget

from app.shared.dialogs import MARKDOWN, MARKDOWN_FILTER, save_file
from app.shared.jobs import JobRunner
from app.shared.wording import plural
from core.errors import DigitLabError
from core.fileio import write_bytes_atomic
from core.runs.best import resolve_checkpoint
from core.runs.record import DamagedRun
from core.runs.report import markdown_table, summarize_run
from core.runs.store import RunRecord, RunStore


def _delete_label(entry: RunRecord | DamagedRun) -> str:
    if isinstance(entry, DamagedRun):
        return f"{entry.id} (damaged: {entry.reason})"
    return entry.name


class RunActions(QObject):
    status_message = Signal(str)
    resume_requested = Signal(str)  # run id; the Train tab resumes it
    try_in_draw = Signal(str)  # path of a freshly exported .onnx
    edit_name = Signal(str)  # run id: the tab opens the editor on its name cell
    store_changed = Signal()  # runs were renamed, deleted or scored: the tab re-reads the store

    def __init__(self, store: RunStore, selected: Callable[[], list[RunRecord | DamagedRun]],
                 listed: Callable[[], list[RunRecord]], parent: QWidget) -> None:
        """`selected`: the selected runs, damaged ones included; `listed`: the healthy runs the
        table shows, in its order."""
        super().__init__(parent)
        self.store, self._selected_entries, self._listed = store, selected, listed
        self._parent = parent
        self.jobs = JobRunner(self)  # scoring or an export: one at a time
        self._checkpoint_known: dict[tuple[str, str, int], bool] = {}

        self.resume = self._action("Resume", "Continue a stopped or interrupted run in the Train "
                                   "tab.", self.resume_selected)
        self.rename = self._action("Rename", "Rename the run (or double-click its name).",
                                   self.rename_selected)
        self.delete = self._action("Delete…", "Delete the selected runs from disk.",
                                   self.delete_selected)
        self.delete.setShortcut(QKeySequence.StandardKey.Delete)
        self.delete.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.score = self._action("Score on My digits", "Measure the selected runs on the digits "
                                  "you drew in the Draw tab.", self.score_selected)
        self.try_draw = self._action("Try in Draw", "Export the run to ONNX (its best epoch "
                                     "when picked on validation, else its last) and open it in "
                                     "the Draw tab.", self.try_selected_in_draw)
        self.save_markdown = self._action("Save as Markdown…", "Save the results table "
                                          "(selected runs, or all) to a file.",
                                          self.save_markdown_dialog)
        self.copy_markdown = self._action("Copy as Markdown", "Copy the results table "
                                          "(selected runs, or all).", self.copy_markdown_text)
        self.update_enabled()

    def _action(self, text: str, tip: str, slot: Callable[[], None]) -> QAction:
        action = QAction(text, self)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _selected(self) -> list[RunRecord]:
        """The healthy selected runs: what every action but Delete works on."""
        return [r for r in self._selected_entries() if isinstance(r, RunRecord)]

    def _single(self) -> RunRecord | None:
        """The selected run when exactly one is selected and it is healthy."""
        entries = self._selected_entries()
        one = entries[0] if len(entries) == 1 else None
        return one if isinstance(one, RunRecord) else None

    def update_enabled(self) -> None:
        """Called by the tab whenever the selection (or a run's state) changes."""
        entries = self._selected_entries()
        records = self._selected()
        one = self._single()
        idle = not self.jobs.busy
        training = any(r.effective_status == "running" for r in records)
        self.resume.setEnabled(one is not None and one.resumable)
        self.rename.setEnabled(one is not None)
        self.delete.setEnabled(bool(entries))
        self.score.setEnabled(idle and bool(records) and not training)
        self.try_draw.setEnabled(idle and one is not None and self._has_default_checkpoint(one))

    def _has_default_checkpoint(self, record: RunRecord) -> bool:
        """Whether the checkpoint Try in Draw exports is there and loadable (the store's check:
        a plain, non-empty file inside the run's own folder). Never one the test set chose
        (core/runs/best.py). Remembered for the run as last read: the store reads every record
        to find one, and this is asked on every selection change and job end."""
        key = (record.id, record.updated, record.epochs_done)
        if key not in self._checkpoint_known:
            try:
                run = self.store.get(record.id)
                found = run.has_checkpoint(resolve_checkpoint(run.record, None))
            except DigitLabError:  # deleted or damaged since the table was read
                found = False
            self._checkpoint_known = {key: found}  # only the run selected now
        return self._checkpoint_known[key]

    # -- store edits --------------------------------------------------------------------------
    @Slot()
    def resume_selected(self) -> None:
        one = self._single()
        if one is not None and one.resumable:
            self.resume_requested.emit(one.id)
            self.status_message.emit(f"Resuming {one.name} in the Train tab…")

    @Slot()
    def rename_selected(self) -> None:
        one = self._single()
        if one is not None:
            self.edit_name.emit(one.id)

    @Slot(str, str)
    def rename_run(self, run_id: str, name: str) -> None:
        record = next((r for r in self._listed() if r.id == run_id), None)
        if record is not None and record.effective_status == "running":
            # The trainer rewrites run.json every epoch from its own copy and would undo it.
            self._warn("Run is training", "Rename this run after its training ends.")
            return
        try:
            self.store.rename(run_id, name)
        except DigitLabError as e:
            self._warn("Could not rename", str(e))
            return
        self.status_message.emit(f"Renamed to “{name}”.")
        self.store_changed.emit()

    @Slot()
    def delete_selected(self) -> None:
        records = self._selected_entries()  # damaged runs too: Delete is what they offer
        if not records:
            return
        names = "\n".join(f"  • {_delete_label(r)}" for r in records[:8])
        more = f"\n  … and {len(records) - 8} more" if len(records) > 8 else ""
        noun = "this run" if len(records) == 1 else f"these {len(records)} runs"
        its = "its" if len(records) == 1 else "their"
        if not self._confirm("Delete runs", f"Delete {noun} with {its} checkpoints and "
                             f"metrics?\n\n{names}{more}\n\nThis cannot be undone."):
            return
        errors = []
        for record in records:
            try:
                self.store.delete(record.id)
            except (DigitLabError, OSError) as e:  # a running run: the core says why
                errors.append(str(e))
        self.store_changed.emit()
        self.status_message.emit(f"Deleted {plural(len(records) - len(errors), 'run')}.")
        if errors:
            self._warn("Not deleted", "\n".join(errors))

    # -- the results table --------------------------------------------------------------------
    def markdown(self) -> str:
        """The results table over the selected runs, or every listed run; in table order."""
        return markdown_table([summarize_run(r) for r in self._selected() or self._listed()])

    def export_markdown(self, path: Path) -> None:
        write_bytes_atomic(Path(path), self.markdown().encode("utf-8"))
        self.status_message.emit(f"Saved the results table to {path}.")

    @Slot()
    def save_markdown_dialog(self) -> None:
        path = save_file(self._parent, "Save results table", MARKDOWN_FILTER, MARKDOWN,
                         "digitlab-runs.md")  # the exports folder first, then the last one
        if path is not None:
            try:
                self.export_markdown(path)
            except OSError as e:
                self._warn("Could not save", f"{path}: {e.strerror or e}")

    @Slot()
    def copy_markdown_text(self) -> None:
        QGuiApplication.clipboard().setText(self.markdown())
        self.status_message.emit("Copied the results table as Markdown.")

    # -- work in a thread (torch) ---------------------------------------------------------------
    @Slot()
    def score_selected(self) -> None:
        ids = [r.id for r in self._selected() if r.effective_status != "running"]
        if not ids:
            return
        from core.data.my_digits import MyDigits  # numpy and Pillow
        from core.workflows.my_digits import score_run  # torch once it runs

        if MyDigits().count() == 0:
            self._warn("No digits to score on", "Draw some digits in the Draw tab and save them "
                       "with their labels first; then score runs on them here.")
            return
        store = self.store

        def score() -> list[str]:  # worker thread: score_run imports torch, saves the record
            errors = []
            for run_id in ids:
                try:
                    score_run(store.get(run_id))
                except DigitLabError as e:
                    errors.append(str(e))
            return errors

        def done(errors: list[str]) -> None:
            self.store_changed.emit()
            self.status_message.emit(f"Scored {plural(len(ids) - len(errors), 'run')} on "
                                     f"My digits.")
            if errors:
                self._warn("Not scored", "\n".join(errors))

        self._start_job(score, done, f"Scoring {plural(len(ids), 'run')} on My digits…")

    @Slot()
    def try_selected_in_draw(self) -> None:
        one = self._single()
        if one is None:
            return
        run_id, name, store = one.id, one.name, self.store

        def export() -> str:  # worker thread: export imports torch and onnx
            from core.workflows.export import export_run_for_draw  # shared with the Train tab

            return str(export_run_for_draw(run_id, store))

        def done(path: str) -> None:
            self.status_message.emit(f"Exported {Path(path).name}; opening it in the Draw tab.")
            self.try_in_draw.emit(path)

        self._start_job(export, done, f"Exporting {name} to ONNX…")

    def _start_job(self, fn: Callable[[], Any], done: Callable[[Any], None], what: str) -> None:
        if self.jobs.busy:
            return
        self.status_message.emit(what)

        def succeeded(result: Any) -> None:
            self.update_enabled()
            done(result)

        self.jobs.start(fn, on_done=succeeded, on_error=self._job_failed)
        self.update_enabled()

    def _job_failed(self, error: BaseException) -> None:
        self.update_enabled()
        # A user-fixable error says what to do; anything else is a bug, named as such.
        text = (str(error) if isinstance(error, DigitLabError)
                else f"{type(error).__name__}: {error}")
        self._warn("Something went wrong", text)

    def is_busy(self) -> bool:
        return self.jobs.busy

    # -- dialogs (tests replace these two) ------------------------------------------------------
    # Both quote run names and errors from files: plain text, never markup.
    def _confirm(self, title: str, text: str) -> bool:
        box = self._box(QMessageBox.Icon.Question, title, text,
                        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        return box.exec() == QMessageBox.StandardButton.Yes

    def _warn(self, title: str, text: str) -> None:
        self._box(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok).exec()

    def _box(self, icon: QMessageBox.Icon, title: str, text: str,
             buttons: QMessageBox.StandardButton) -> QMessageBox:
        box = QMessageBox(icon, title, text, buttons, self._parent)
        box.setTextFormat(Qt.TextFormat.PlainText)
        return box
