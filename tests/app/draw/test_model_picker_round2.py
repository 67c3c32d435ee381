"""The model picker never does work proportional to a file's text on the GUI thread (issue
23.2): a model name megabytes long was elided by Qt in full at every resize and tab switch."""

from __future__ import annotations

import time
from pathlib import Path

from app.draw.model_picker import MAX_SHOWN_CHARS, ClassifierCache, ModelPicker, describe
from core.onnx_io.classifier import DigitClassifier
from tests.core.onnx_io.test_hostile_round2 import digit_model
from tests.support.draw_helpers import settled


def test_a_huge_text_is_cut_before_qt_measures_it(qtbot) -> None:
    picker = ModelPicker(ClassifierCache())
    qtbot.addWidget(picker)
    picker.resize(500, 80)
    picker.show()
    huge = "n" * 20_000_000
    start = time.monotonic()
    picker.info.setText(huge)
    for width in (300, 600, 400):  # each resize elides again
        picker.resize(width, 80)
        qtbot.wait(1)
    assert time.monotonic() - start < 1.0
    assert len(picker.info.full_text()) == MAX_SHOWN_CHARS
    assert picker.info.text().endswith("…")


def test_a_loaded_models_line_stays_short(qtbot, tab, tmp_path: Path, dialogs) -> None:
    path = digit_model(tmp_path / "m.onnx", metadata={
        "digitlab.model": "x" * 150_000, "digitlab.test_accuracy": "9" * 50_000})
    picker = tab.primary.picker
    settled(qtbot, picker, lambda: tab.load_model(str(path)))
    assert not dialogs, dialogs
    assert isinstance(picker.classifier, DigitClassifier)
    assert picker.classifier.path == path.resolve()
    assert len(describe(picker.classifier)) < 250 and len(picker.info.full_text()) < 250
    picker.grab().save(str(tmp_path / "picker.png"))
