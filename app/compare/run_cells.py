"""What each cell of the runs table says: text, sort key, tooltip and colour of every column.

A row is a healthy run (its `RunRecord` and `RunSummary` from `core.runs.report`) or a damaged one
(a `DamagedRun`: a folder whose record cannot be trusted, so it shows what is wrong and nothing
else). Plain functions of a row and a column; `app.compare.runs_table` serves them to Qt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QPalette
from PySide6.QtWidgets import QApplication

from app.shared.style import BAD_COLOR, OK_COLOR
from core.runs.record import DamagedRun
from core.runs.report import (
    EPOCH_BUDGET,
    PARAM_BUDGET,
    TARGET_ACCURACY,
    RunSummary,
    format_seconds,
    summarize_run,
)
from core.runs.store import RunRecord
from core.text import percent, plural, printable


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
    Col.STATUS: ("Status", "completed, stopped, failed, interrupted, running or damaged.", 84),
    Col.MY_DIGITS: ("My digits", "Accuracy on the digits you drew in the Draw tab.", 74),
    Col.TIME: ("Time", "Training and evaluation time over all epochs.", 64),
    Col.DEVICE: ("Device", "Where it trained.", 70),
}

NUMERIC = {Col.PARAMS, Col.RF, Col.BEST, Col.FINAL, Col.LAST3, Col.EPOCHS, Col.TIME,
           Col.MY_DIGITS}
BADGES = {Col.HITS_ACC, Col.HITS_PARAMS, Col.HITS_EPOCHS}

DAMAGED = "damaged"  # the status of a run folder whose record cannot be used
STATUS_HELP = {
    "completed": "Trained for every planned epoch.",
    "stopped": "Stopped by you before the last epoch.",
    "failed": "Training raised an error.",
    "interrupted": "The process training it ended mid-run (closed or crashed).",
    "running": "Training now.",
    "created": "Created, no epoch trained yet.",
    DAMAGED: "Nothing in this run can be shown, trained, scored or exported: select it and "
             "press Delete to remove its folder.",
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


RunEntry = RunRecord | DamagedRun  # what `RunStore.list_runs()` gives: every run folder


@dataclass(frozen=True)
class RunRow:
    """A healthy run and its summary."""

    record: RunRecord
    summary: RunSummary


@dataclass(frozen=True)
class DamagedRow:
    """A run folder whose record cannot be trusted: its row says what is wrong, shows no
    number, and offers Delete only."""

    record: DamagedRun


Row = RunRow | DamagedRow


def row_of(entry: RunEntry) -> Row:
    if isinstance(entry, DamagedRun):
        return DamagedRow(entry)
    return RunRow(entry, summarize_run(entry))


def is_empty(row: Row) -> bool:
    """No epoch trained and not training now: stopped at once, or failed (a download) before.
    A damaged run is not empty: it stays in view until it is deleted."""
    if isinstance(row, DamagedRow):
        return False
    return row.summary.epochs_done == 0 and row.summary.status != "running"


def meets_all_targets(row: Row) -> bool:
    if isinstance(row, DamagedRow):
        return False
    s = row.summary
    return s.meets_accuracy and s.meets_params and s.meets_epochs


def badges(s: RunSummary) -> dict[Col, bool | None]:
    """Each target met (True), missed (False), or not judged yet (None: no epoch trained, so
    there is no accuracy and no epoch count to hold against the target)."""
    trained = s.epochs_done > 0
    return {Col.HITS_ACC: s.meets_accuracy if trained else None,
            Col.HITS_PARAMS: s.meets_params,
            Col.HITS_EPOCHS: s.meets_epochs if trained else None}


# -- what a cell shows -------------------------------------------------------------------------
# Each public function takes any row; the private ones below it know healthy runs only.

MISSING = -1.0  # the sort key of a run without a number: below every real one


def cell_text(row: Row, col: Col) -> str:
    if isinstance(row, DamagedRow):
        if col == Col.NAME:
            return f"damaged: {printable(row.record.reason, 300)}"
        return DAMAGED if col == Col.STATUS else ""  # no number from an untrusted record
    return _text(row.summary, col)


def sort_key(row: Row, col: Col) -> Any:
    """A float in the number columns for every row (Qt cannot order a float against a str),
    else the casefolded text."""
    if isinstance(row, RunRow):
        return _sort_key(row.summary, col)
    return MISSING if col in NUMERIC or col in BADGES else cell_text(row, col).casefold()


def tooltip(row: Row, col: Col) -> str | None:
    """Tooltips quote run names, folder names and errors from files: callers make them plain
    text."""
    if isinstance(row, DamagedRow):
        # Folder names and reasons quote what lies on disk: one line each, no control characters.
        run = row.record
        return (f"Damaged run folder {printable(run.id)}\n{printable(run.reason)}\n\n"
                f"{STATUS_HELP[DAMAGED]}\nFolder: {printable(run.dir)}")
    return _tooltip(row.record, row.summary, col)


def foreground(row: Row, col: Col) -> QBrush | None:
    if isinstance(row, DamagedRow):
        return QBrush(QColor(BAD_COLOR)) if col in (Col.NAME, Col.STATUS) else None
    return _foreground(row.summary, col)


def _text(s: RunSummary, col: Col) -> str:
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
            return percent(s.best_acc)
        case Col.FINAL:
            return percent(s.final_acc)
        case Col.LAST3:
            return "  ".join(f"{a:.2f}" for a in s.last3) or "–"
        case Col.EPOCHS:
            if s.budget_epochs:  # "1.26", not "2/15": a time budget's last pass is cut short
                return f"{s.budget_epochs:.2f}"
            done, planned = s.epochs_done, s.epochs_planned
            return f"{done}/{planned}" if planned and done < planned else str(done)
        case Col.TIME:
            return format_seconds(s.seconds) if s.seconds else "–"
        case Col.DEVICE:
            return short_device(s.device)
        case Col.STATUS:
            return s.status
        case Col.MY_DIGITS:
            return percent(s.my_digits_acc, 1)
    verdict = badges(s)[col]
    return "–" if verdict is None else "✓" if verdict else "✗"


def _sort_key(s: RunSummary, col: Col) -> Any:
    missing = MISSING
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
            return float(s.budget_epochs or s.epochs_done)
        case Col.TIME:
            return float(s.seconds)
        case Col.MY_DIGITS:
            return missing if s.my_digits_acc is None else float(s.my_digits_acc)
        case Col.HITS_ACC | Col.HITS_PARAMS | Col.HITS_EPOCHS:
            verdict = badges(s)[col]
            return missing if verdict is None else float(verdict)
    return _text(s, col).casefold()


def _tooltip(r: RunRecord, s: RunSummary, col: Col) -> str | None:
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
                text += (f"\nStopped after {s.epochs_done} of {plural(s.epochs_planned, 'epoch')}: "
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


def alignment(col: Col) -> Qt.AlignmentFlag:
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

