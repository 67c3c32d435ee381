"""The Markdown results table (`digitlab-cli report`, Compare tab's Save Markdown)."""

from __future__ import annotations

from core.runs.report import RunSummary, markdown_table


def _summary(**changes: object) -> RunSummary:
    base = dict(id="20260101-000000-dl-tiny-1k", name="quick", model="dl-tiny-1k",
                status="completed", params=996, receptive_field=18, epochs_done=3,
                epochs_planned=3, best_acc=99.5, final_acc=99.41, last3=(99.43, 99.5, 99.41),
                seconds=12.0, device="cpu", my_digits_acc=87.5)
    return RunSummary(**{**base, **changes})  # type: ignore[arg-type]


def _rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split(" | ")]
            for line in text.splitlines() if line.startswith("|")]


def test_every_column_has_a_header_and_a_value() -> None:
    header, rule, row = _rows(markdown_table([_summary()]))
    assert len(header) == len(row) == rule[0].count("---") == 12
    cells = dict(zip(header, row, strict=True))
    assert cells["My digits"] == "87.5%"
    assert cells["Last 3 epochs"] == "99.43%, 99.50%, 99.41%"
    assert cells["Best test"] == "99.50%" and cells["≥99.4% (last 3)"] == "✅"


def test_missing_scores_show_a_dash_and_names_cannot_break_the_row() -> None:
    _, _, row = _rows(markdown_table([_summary(my_digits_acc=None, last3=(), name="a | b\nc",
                                               final_acc=None, best_acc=None, device="")]))
    text = markdown_table([_summary(name="a | b\nc")])
    assert "a \\| b c" in text
    assert row[-1] == "–" and row[5] == "–" and row[-2] == "–"
