"""Settings under the collapsed Advanced section that differ from the model's recipe are named
under its toggle (issue 26.6): a remembered "Training images 5000" no longer shrinks later runs
unseen."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from app.train.form import TrainForm


def test_a_fresh_form_shows_no_summary(qtbot) -> None:
    form = TrainForm()
    qtbot.addWidget(form)
    assert form.advanced_changes() == []
    assert form.advanced_summary.isHidden() and form.advanced_toggle.text() == "Advanced"


def test_a_remembered_subset_is_named_under_the_collapsed_toggle(qtbot, tmp_path: Path) -> None:
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    first = TrainForm()
    qtbot.addWidget(first)
    first.set_values({"train_subset": 5000, "tta_degrees": 4.0})
    first.save(settings)
    form = TrainForm()  # the next start
    qtbot.addWidget(form)
    form.restore(settings)
    assert form.config().train_subset == 5000
    assert not form.advanced.isVisibleTo(form)  # still collapsed...
    assert not form.advanced_summary.isHidden()  # ...but it says what it holds
    text = form.advanced_summary.text()
    assert text.startswith("Set under Advanced: ")
    assert "Training images 5000" in text and "Test-time rotation 4.0" in text
    assert form.advanced_toggle.text() == "Advanced (2 changed)"
    form.advanced_toggle.setChecked(True)  # open: the fields themselves show it
    assert form.advanced_summary.isHidden()
    form.advanced_toggle.setChecked(False)
    form.set_values({"train_subset": 0, "tta_degrees": 0.0})
    assert form.advanced_summary.isHidden() and form.advanced_toggle.text() == "Advanced"
