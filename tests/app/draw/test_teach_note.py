"""The Teach result line is about the personal model just made: it stays while that model is
shown and goes when the first column switches to another (issue 26.6)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from core.training.finetune import MIN_PER_DIGIT
from tests.app.draw.test_teach import save_hand
from tests.core.data.test_my_digits import gemm_onnx
from tests.support.draw_helpers import settled


def _result(path: Path) -> SimpleNamespace:
    return SimpleNamespace(holdout_before=60.0, holdout_after=90.0, mnist_before=98.9,
                           mnist_after=98.7, path=path)


def test_the_result_line_goes_when_another_model_is_shown(qtbot, tab, model_path: Path,
                                                         tmp_path: Path) -> None:
    teach = tab.my_digits.teach
    save_hand(tab, MIN_PER_DIGIT)  # as after teaching: enough of every digit
    with qtbot.waitSignal(tab.primary.picker.settled, timeout=60_000):
        teach._done(_result(model_path))  # the tab opens "the personal model" it names
    assert teach.note.text().startswith("Your digits: 60% → 90%")
    assert tab.classifier is not None and tab.classifier.path == model_path.resolve()
    other = gemm_onnx(tmp_path / "other.onnx")
    settled(qtbot, tab.primary.picker, lambda: tab.load_model(str(other)))
    assert tab.classifier.path == other.resolve()
    assert teach.note.text() == ""


def test_the_line_stays_while_its_model_is_shown(qtbot, tab, model_path: Path) -> None:
    teach = tab.my_digits.teach
    save_hand(tab, MIN_PER_DIGIT)  # as after teaching: enough of every digit
    with qtbot.waitSignal(tab.primary.picker.settled, timeout=60_000):
        teach._done(_result(model_path))
    teach.model_changed(tab.classifier)  # the same model again (e.g. reloaded)
    assert teach.note.text().startswith("Your digits:")
