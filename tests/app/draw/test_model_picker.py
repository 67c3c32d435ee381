"""The Draw tab's model pickers: what they show is what is loaded, loading never blocks the GUI
thread (at start-up neither), new exports are listed at once, and the budget badge is right."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QFileDialog

import app.draw.model_picker as model_picker
from app.draw.model_picker import NO_MODEL, ModelPicker
from app.draw.tab import DrawTab
from core.data.my_digits import MyDigits
from core.onnx_io.classifier import DigitClassifier
from core.paths import bundled_model_path, exports_dir
from tests.app.draw.conftest import make_tab
from tests.core.data.test_my_digits import gemm_onnx
from tests.support.draw_helpers import LOAD_TIMEOUT_MS, settled, wait_idle

needs_bundled = pytest.mark.skipif(not bundled_model_path().is_file(),
                                   reason="the bundled model is not in this checkout")


def assert_shows_what_is_loaded(picker: ModelPicker) -> None:
    """The combo shows the loaded model's line, or the "No model loaded" placeholder."""
    clf = picker.classifier
    if clf is None:
        assert picker.combo.currentIndex() == -1 and picker.combo.currentText() == ""
        assert picker.combo.placeholderText() == NO_MODEL
        assert not picker.badge.isVisible()
    else:
        assert Path(picker.combo.currentData()).resolve() == clf.path.resolve()


class SlowClassifier(DigitClassifier):
    """A real classifier that takes `delay` seconds to open, like a big or hostile file."""

    delay = 1.0

    def __init__(self, path, *args, **kwargs) -> None:
        time.sleep(self.delay)
        super().__init__(path, *args, **kwargs)


def two_layer_onnx(path: Path, hidden: int) -> Path:
    """784 → hidden → 10 with Relu: 784·h + h + 10·h + 10 values in its initializers."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 0.05, shape).astype(np.float32), name)
             for name, shape in (("W1", (784, hidden)), ("b1", (hidden,)),
                                 ("W2", (hidden, 10)), ("b2", (10,)))]
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["f"], axis=1),
         helper.make_node("Gemm", ["f", "W1", "b1"], ["h"]),
         helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("Gemm", ["r", "W2", "b2"], ["y"])], "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path


@needs_bundled
def test_compare_without_a_second_model_shows_no_model_in_the_combo(qtbot, tab: DrawTab) -> None:
    # Issue 13.4: only the bundled model exists and the first column shows it, so the second
    # column has nothing to load; its combo said "Bundled model (default.onnx)" regardless.
    settled(qtbot, tab.primary.picker, lambda: tab.load_model(str(bundled_model_path())))
    tab.compare_box.setChecked(True)
    wait_idle(qtbot, tab)
    second = tab.secondary.picker
    assert second.classifier is None
    assert_shows_what_is_loaded(second)
    assert second.info.full_text().startswith(NO_MODEL)
    assert tab.secondary.view.confidence_text == "no model loaded"
    assert_shows_what_is_loaded(tab.primary.picker)


def test_the_combo_follows_loads_not_requests(qtbot, tab: DrawTab, tmp_path: Path,
                                               monkeypatch, dialogs) -> None:
    picker = tab.primary.picker
    before = picker.classifier
    slow = gemm_onnx(tmp_path / "slow.onnx", seed=4)
    monkeypatch.setattr(model_picker, "DigitClassifier", SlowClassifier)
    picker.select_path(str(slow))
    assert picker.loading and picker.classifier is before
    assert_shows_what_is_loaded(picker)  # still the old model while the new one loads
    assert picker.info.full_text() == "Loading slow.onnx…"
    qtbot.waitUntil(lambda: not picker.loading, timeout=LOAD_TIMEOUT_MS)
    assert picker.classifier.path == slow.resolve()
    assert_shows_what_is_loaded(picker)

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    settled(qtbot, picker, lambda: picker.select_path(str(bad)))
    assert picker.classifier.path == slow.resolve() and len(dialogs) == 1
    assert_shows_what_is_loaded(picker)  # a refused file is not shown as chosen

    bundled_row = next(i for i in range(picker.combo.count())
                       if picker.combo.itemData(i) and "default.onnx" in picker.combo.itemData(i))
    settled(qtbot, picker, lambda: picker.combo.activated.emit(bundled_row))
    assert_shows_what_is_loaded(picker)
    assert picker.classifier.path.name == "default.onnx"


def test_opening_a_model_never_blocks_the_gui_thread(qtbot, tab: DrawTab, tmp_path: Path,
                                                     monkeypatch) -> None:
    monkeypatch.setattr(model_picker, "DigitClassifier", SlowClassifier)
    path = gemm_onnx(tmp_path / "m.onnx", seed=6)
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(20)
    began = time.monotonic()
    tab.load_model(str(path))
    assert time.monotonic() - began < 0.2  # returned at once; the file opens in a job
    qtbot.waitUntil(lambda: not tab.loading, timeout=LOAD_TIMEOUT_MS)
    timer.stop()
    assert tab.classifier.path == path.resolve()
    # The event loop kept running through the 1 s load: no gap between timer ticks near it.
    assert len(ticks) >= 10 and max(np.diff(ticks)) < 0.5


def test_start_up_never_waits_for_the_remembered_model(qtbot, settings: QSettings,
                                                       tmp_path: Path, monkeypatch) -> None:
    remembered = gemm_onnx(tmp_path / "remembered.onnx", seed=7)
    settings.setValue("draw/model", str(remembered))
    monkeypatch.setattr(model_picker, "DigitClassifier", SlowClassifier)
    began = time.monotonic()
    widget = DrawTab(settings=settings, store=MyDigits(tmp_path / "md"))
    qtbot.addWidget(widget)
    assert time.monotonic() - began < 0.8  # the window is not held up by the 1 s load
    assert widget.loading and widget.classifier is None
    assert widget.primary.view.confidence_text == "loading the model…"
    qtbot.waitUntil(lambda: not widget.loading, timeout=LOAD_TIMEOUT_MS)
    assert widget.classifier.path == remembered.resolve()
    assert widget.shutdown(10.0)


@needs_bundled
def test_a_remembered_model_that_fails_is_skipped_and_forgotten(
        qtbot, settings: QSettings, tmp_path: Path, dialogs) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(np.random.default_rng(1).bytes(3000))
    settings.setValue("draw/model", str(broken))
    messages: list[str] = []
    widget = DrawTab(settings=settings, store=MyDigits(tmp_path / "md"))
    qtbot.addWidget(widget)
    widget.status_message.connect(messages.append)
    qtbot.waitUntil(lambda: not widget.loading, timeout=LOAD_TIMEOUT_MS)
    assert widget.classifier.path == bundled_model_path().resolve()  # the next candidate
    assert dialogs == []  # start-up says it in the status bar only
    assert any("broken.onnx" in m for m in messages)
    assert settings.value("draw/model") == str(bundled_model_path().resolve())
    assert widget.shutdown(10.0)


def test_shutdown_ends_a_pending_load_and_nothing_reports_after(
        qtbot, tab: DrawTab, tmp_path: Path, monkeypatch) -> None:
    before = tab.classifier
    monkeypatch.setattr(model_picker, "DigitClassifier", SlowClassifier)
    tab.load_model(str(gemm_onnx(tmp_path / "late.onnx")))
    assert tab.loading
    assert tab.shutdown(10.0) is True  # the 1 s load ended within the timeout
    qtbot.wait(50)
    assert tab.classifier is before  # the abandoned load never replaced the model


@pytest.mark.parametrize(("hidden", "params", "badge"), [(None, 7_850, "under 8k"),
                                                         (11, 8_755, "over 8k")])
def test_the_badge_says_whether_the_model_is_under_budget(
        qtbot, tab: DrawTab, tmp_path: Path, hidden: int | None, params: int,
        badge: str) -> None:
    path = (gemm_onnx(tmp_path / "m.onnx") if hidden is None
            else two_layer_onnx(tmp_path / "m.onnx", hidden))
    settled(qtbot, tab.primary.picker, lambda: tab.load_model(str(path)))
    picker = tab.primary.picker
    assert f"{params:,} params" in picker.info.full_text()
    assert picker.badge.text() == badge
    assert f"{params:,} parameters" in picker.badge.toolTip()


def test_a_model_exported_elsewhere_is_listed_at_once(qtbot, tab: DrawTab, tmp_path: Path) -> None:
    """A model file appearing in the exports folder the way every export writes one (a temporary
    file in the folder, then an atomic rename: `core.onnx_io.export.export_model` calls the same
    `write_bytes_atomic`) shows in both lists without anyone refreshing them."""
    from core.fileio import write_bytes_atomic

    tab.set_compare(True)
    wait_idle(qtbot, tab)
    onnx_bytes = gemm_onnx(tmp_path / "built.onnx", seed=8).read_bytes()
    write_bytes_atomic(exports_dir() / "fresh-run.onnx", onnx_bytes)

    def listed(picker: ModelPicker) -> bool:
        combo = picker.combo
        return "fresh-run" in [combo.itemText(i) for i in range(combo.count())]

    qtbot.waitUntil(lambda: listed(tab.primary.picker) and listed(tab.secondary.picker),
                    timeout=5_000)
    assert not [p for p in exports_dir().iterdir() if p.suffix != ".onnx"]  # no temp file left
    assert_shows_what_is_loaded(tab.primary.picker)
    assert_shows_what_is_loaded(tab.secondary.picker)


def test_open_onnx_starts_in_the_home_folder_then_remembers(
        qtbot, tab: DrawTab, tmp_path: Path, monkeypatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    chosen = gemm_onnx(elsewhere / "mine.onnx")
    started_in: list[str] = []

    def fake_dialog(parent, title, folder, name_filter):
        started_in.append(folder)
        return str(chosen), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", fake_dialog)
    picker = tab.primary.picker
    settled(qtbot, picker, picker.open_button.click)
    assert Path(started_in[0]) == Path.home()  # not the hidden data folder
    assert picker.classifier.path == chosen.resolve()
    # The second column's dialog (and the next start) open where the last file was chosen.
    settled(qtbot, tab.secondary.picker, tab.secondary.picker.open_button.click)
    assert Path(started_in[1]) == elsewhere
    again = make_tab(qtbot, QSettings(str(tmp_path / "other.ini"), QSettings.Format.IniFormat),
                     tmp_path / "md2")
    settled(qtbot, again.primary.picker, again.primary.picker.open_button.click)
    assert Path(started_in[2]) == elsewhere
    assert again.shutdown(10.0)
