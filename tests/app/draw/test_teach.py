""""Teach it my hand" in the Draw tab: enabled once every digit has five drawings, runs in a
background job, opens the personal model it made, and says why when it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

import app.draw.teach as teach
from app.draw.tab import DrawTab
from core.errors import ConfigError
from core.training.finetune import FinetuneResult
from tests.app.draw.conftest import texts
from tests.core.data.test_my_digits import gemm_onnx
from tests.core.training.test_finetune import hand


def save_hand(tab: DrawTab, per_digit: int) -> None:
    for image, label in zip(*hand(per_digit), strict=True):
        tab.store.add(image, int(label))
    tab.my_digits.refresh_counts()


def test_button_waits_for_three_of_each_digit(tab: DrawTab) -> None:
    button = tab.my_digits.teach.button
    assert not button.isEnabled() and "still short: 0 (0)" in button.toolTip()
    save_hand(tab, 2)
    assert not button.isEnabled() and "9 (2)" in button.toolTip()
    save_hand(tab, 1)
    assert button.isEnabled() and "Fine-tune the model in use" in button.toolTip()


def test_teaching_opens_the_personal_model(qtbot, tab: DrawTab, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The job gets the saved digits and the base for the model in use; its result is opened
    in the first column and announced. (The fine-tuning itself is tested in core.)"""
    personal = gemm_onnx(tmp_path / "personal.onnx", seed=3)
    calls = []

    def fake_job(base, images, labels, output, state):
        calls.append((base, images.shape, sorted(set(labels.tolist())), Path(output).name))
        state.set_progress("Fine-tuning: step 1/1")
        return FinetuneResult(personal, "the bundled model", 40, 10, 70.0, 90.0, 99.6, 99.58,
                              1.0)

    monkeypatch.setattr(teach, "teach_job", fake_job)
    messages: list[str] = []
    tab.status_message.connect(messages.append)
    save_hand(tab, 5)
    tab.my_digits.teach.button.click()
    qtbot.waitUntil(lambda: tab.classifier is not None
                    and tab.classifier.path == personal.resolve(), timeout=20_000)
    base, shape, labels, name = calls[0]
    assert base == "bundled"  # the bundled model is no exported run
    assert shape == (50, 28, 28) and labels == list(range(10))
    assert name.startswith("personal-bundled-") and name.endswith(".onnx")
    assert any("70% → 90%" in m for m in messages)
    assert "70% → 90%" in tab.my_digits.teach.note.text()
    assert tab.my_digits.teach.button.isEnabled()  # ready to teach again


def test_a_failure_is_a_dialog_not_a_crash(qtbot, tab: DrawTab, dialogs,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_job(base, images, labels, output, state):
        raise ConfigError("MNIST is needed for replay: fetch it first.")

    monkeypatch.setattr(teach, "teach_job", failing_job)
    save_hand(tab, 5)
    tab.my_digits.teach.button.click()
    qtbot.waitUntil(lambda: bool(dialogs), timeout=20_000)
    assert texts(dialogs) == ["MNIST is needed for replay: fetch it first."]
    qtbot.waitUntil(lambda: tab.my_digits.teach.button.isEnabled(), timeout=5_000)
