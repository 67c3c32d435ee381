"""Run summaries and the results table the seed authors made by hand. Torch-free.

The targets are the seeds' own: 99.4% test accuracy "consistently" (every one of the last three
epochs), fewer than 8,000 parameters, at most 15 epochs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.models.spec import PARAM_BUDGET, under_budget
from core.runs.store import RunRecord
from core.text import percent, printable

TARGET_ACCURACY = 99.4  # %
EPOCH_BUDGET = 15


@dataclass(frozen=True)
class RunSummary:
    id: str
    name: str
    model: str
    status: str
    params: int
    receptive_field: int
    epochs_done: int
    epochs_planned: int
    best_acc: float | None  # best test accuracy over epochs, %
    final_acc: float | None  # test accuracy of the last completed epoch, %
    last3: tuple[float, ...]  # test accuracies of the last (up to) three epochs
    seconds: float  # training + evaluation time over all epochs
    device: str
    my_digits_acc: float | None  # % on the user's own drawn digits, when scored
    budget_epochs: float = 0.0  # a time-budget run: the (fractional) epochs it trained

    @property
    def meets_accuracy(self) -> bool:
        return len(self.last3) == 3 and min(self.last3) >= TARGET_ACCURACY

    @property
    def meets_params(self) -> bool:
        return self.params > 0 and under_budget(self.params)  # 0: not counted

    @property
    def meets_epochs(self) -> bool:
        return 0 < self.epochs_done <= EPOCH_BUDGET


def summarize_run(record: RunRecord) -> RunSummary:
    accs = [m["test_acc"] for m in record.history]
    my = record.scores.get("my_digits", {})
    budget = record.config.get("time_budget")
    budget = budget if isinstance(budget, int | float) and not isinstance(budget, bool) else 0
    return RunSummary(
        id=record.id, name=record.name, model=record.model, status=record.effective_status,
        params=record.params, receptive_field=record.receptive_field,
        # A time budget plans its own epochs: config.epochs is no plan for it.
        epochs_done=record.epochs_done,
        epochs_planned=0 if budget else int(record.config.get("epochs", 0)),
        best_acc=max(accs) if accs else None, final_acc=accs[-1] if accs else None,
        last3=tuple(accs[-3:]), seconds=sum(m["seconds"] for m in record.history),
        device=str(record.env.get("device", "")),
        my_digits_acc=my.get("accuracy") if isinstance(my, dict) else None,
        budget_epochs=_budget_epochs(record) if budget else 0.0,
    )


def _budget_epochs(record: RunRecord) -> float:
    """What a time-budget run recorded it trained (env["time_budget"]["epochs"]), 0 if not."""
    chosen = record.env.get("time_budget")
    epochs = chosen.get("epochs") if isinstance(chosen, dict) else None
    ok = isinstance(epochs, int | float) and math.isfinite(epochs) and epochs >= 0
    return float(epochs) if ok else 0.0  # type: ignore[arg-type]


def format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def _cell(text: str) -> str:
    """Free text from run.json (a name, a device label) that cannot break the table's row."""
    # printable: no terminal escapes or control characters from a file reach the output.
    return " ".join(printable(text, limit=200).replace("|", "\\|").split()) or "–"


def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def markdown_table(summaries: list[RunSummary]) -> str:
    """The results table: one row per run, targets met or not."""
    header = ("| Run | Model | Params | Best test | Final test | Last 3 epochs | "
              f"≥{TARGET_ACCURACY:g}% (last 3) | <{PARAM_BUDGET // 1000}k params | "
              f"≤{EPOCH_BUDGET} epochs | Time | Device | My digits |")
    rule = "|" + "---|" * 12
    rows = [header, rule]
    for s in summaries:
        last3 = ", ".join(percent(a) for a in s.last3) or "–"
        cells = [_cell(s.name), _cell(s.model), f"{s.params:,}", percent(s.best_acc),
                 percent(s.final_acc), last3, _mark(s.meets_accuracy), _mark(s.meets_params),
                 f"{_mark(s.meets_epochs)} ({s.epochs_done})", format_seconds(s.seconds),
                 _cell(s.device), percent(s.my_digits_acc, 1)]
        rows.append("| " + " | ".join(cells) + " |")
    rows.append("")
    rows.append("Targets as in the seed write-ups: test accuracy ≥ 99.4% in each of the last three "
                "epochs, fewer than 8,000 parameters, at most 15 epochs.")
    return "\n".join(rows) + "\n"
