"""The experiment report says what was trained (issue 26.4): the base-settings line is whole,
data settings first, and a variant named only "A" says what it changes."""

from __future__ import annotations

from core.experiments.spec import ExperimentSpec, Point, SearchSpec, settable_fields
from core.experiments.statistics import markdown_report, recipe_text
from core.training.config import TrainConfig


def test_the_base_settings_line_is_whole_with_the_data_first() -> None:
    # What the GUI's sweep dialog saves: every settable setting of the form (~40 of them).
    form = TrainConfig(train_subset=5000, val_split=800).to_dict()
    base = {k: v for k, v in form.items() if k in settable_fields()}
    spec = ExperimentSpec(name="gui", model="dl-tiny-1k", seeds=[0, 1], base=base)
    line = next(x for x in markdown_report(spec, []).splitlines() if x.startswith("Trials:"))
    assert "base settings: epochs=15, time_budget=0.0, train_subset=5000, val_split=800" in line
    assert line.endswith(".") and "…" not in line
    for key, value in base.items():  # nothing cut off the end
        assert f"{key}={value}" in line


def test_variants_named_by_a_letter_say_what_they_change() -> None:
    spec = ExperimentSpec(name="aug", seeds=[0], variants={
        "A": {"label_smoothing": 0.05, "augment": 1.0}, "B": {"augment": 0.3}},
        search=SearchSpec("grid", {"lr": [0.01, 0.02]}))
    spec.validate()
    labels = [recipe_text(spec, p) for p in spec.grid_points()]
    assert labels[0] == "A (label_smoothing=0.05, augment=1.0) · lr=0.01"
    assert labels[3] == "B (augment=0.3) · lr=0.02"
    assert recipe_text(spec, Point(0, "", {"lr": 0.01})) == "lr=0.01"  # no variant: unchanged
