"""The Draw tab, offscreen, with real onnxruntime sessions and real (QTest) mouse strokes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QFileDialog, QTabWidget, QWidget

from app.draw.canvas import DrawingCanvas
from app.draw.tab import DrawTab
from core.data.my_digits import MyDigits
from tests.app.draw.conftest import make_tab, texts
from tests.conftest import REPO
from tests.core.data.test_my_digits import gemm_onnx
from tests.support.draw_helpers import ONE, SEVEN, draw_digit, draw_stroke, settled, wait_idle


def assert_blank(tab: DrawTab) -> None:
    assert tab.image28 is None and not tab.preview.has_image()
    assert tab.primary.view.digit_text == "–" and tab.primary.view.prediction is None
    assert tab.primary.view.confidence_text == "no digit"
    assert not tab.primary.view.bars.heights().any()


def test_tab_builds_with_actions_and_shortcut_tooltips(tab: DrawTab) -> None:
    assert tab.undo_action.shortcut().toString() == "Ctrl+Z"
    assert [k.toString() for k in tab.redo_action.shortcuts()] == ["Ctrl+Shift+Z", "Ctrl+Y"]
    assert [k.toString() for k in tab.clear_action.shortcuts()] == ["Del", "Ctrl+L"]
    for action in (tab.undo_action, tab.redo_action, tab.clear_action):
        assert action.shortcut().toString(action.shortcut().SequenceFormat.NativeText) in \
            action.toolTip()
    assert not tab.undo_action.isEnabled() and not tab.redo_action.isEnabled()
    assert_blank(tab)
    assert "params" in tab.primary.picker.info.full_text()
    # Both models the fixture may load are under budget: the bundled flagship has 7,604
    # parameters, the Gemm fallback 784 × 10 + 10 = 7,850 (test_model_picker covers "over").
    assert tab.primary.picker.badge.text() == "under 8k"
    assert not tab.secondary.isVisible()


def test_a_drawn_stroke_gives_a_prediction_and_preview(qtbot, tab: DrawTab) -> None:
    draw_digit(qtbot, tab)
    assert len(tab.canvas.strokes) == 1 and len(tab.canvas.strokes[0].points) == len(SEVEN[0])
    image = tab.image28
    assert image is not None and image.shape == (28, 28) and image.max() == pytest.approx(1.0)
    assert tab.preview.has_image()
    view = tab.primary.view
    assert view.prediction is not None and view.digit_text == str(view.prediction.digit)
    assert view.confidence_text.endswith("% sure")
    np.testing.assert_allclose(view.bars.heights(), view.prediction.probabilities, rtol=1e-6)
    assert view.bars.heights().sum() == pytest.approx(1.0, abs=1e-5)
    if tab.classifier.is_digitlab_export:  # a real trained model reads a plain 7 correctly
        assert view.prediction.digit == 7


def test_live_updates_while_drawing_are_throttled(qtbot, tab: DrawTab) -> None:
    canvas = tab.canvas
    at = [QPoint(int(x * canvas.width()), int(y * canvas.height())) for x, y in ONE[0]]
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=at[0])
    for pos in at[1:]:
        qtbot.mouseMove(canvas, pos)
    assert tab._timer.isActive()  # moves only schedule an update ...
    qtbot.waitUntil(lambda: tab.image28 is not None, timeout=1000)  # ... which comes, mid-stroke
    assert tab.primary.view.prediction is not None and canvas.strokes == ()
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=at[-1])
    assert len(canvas.strokes) == 1


def test_undo_redo_and_clear(qtbot, tab: DrawTab) -> None:
    draw_digit(qtbot, tab)
    drawn = tab.image28.copy()
    assert tab.undo_action.isEnabled() and tab.clear_action.isEnabled()
    tab.undo_action.trigger()
    assert_blank(tab)
    assert tab.redo_action.isEnabled() and not tab.undo_action.isEnabled()
    tab.redo_action.trigger()
    np.testing.assert_array_equal(tab.image28, drawn)
    assert tab.primary.view.prediction is not None

    tab.clear_action.trigger()
    assert_blank(tab)
    assert tab.canvas.strokes == () and not tab.clear_action.isEnabled()
    tab.undo_action.trigger()  # clearing is undoable too
    np.testing.assert_array_equal(tab.image28, drawn)


def test_keyboard_shortcuts_reach_the_canvas(qtbot, tab: DrawTab) -> None:
    draw_digit(qtbot, tab)
    tab.canvas.setFocus()
    qtbot.keyClick(tab.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert tab.canvas.strokes == ()
    qtbot.keyClick(tab.canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert len(tab.canvas.strokes) == 1
    qtbot.keyClick(tab.canvas, Qt.Key.Key_Delete)
    assert tab.canvas.strokes == ()


def test_actions_are_off_while_another_tab_is_shown(qtbot, settings: QSettings,
                                                    tmp_path: Path) -> None:
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    draw = DrawTab(settings=settings, store=MyDigits(tmp_path / "md"))
    tabs.addTab(QWidget(), "Train")
    tabs.addTab(draw, "Draw")
    tabs.show()
    qtbot.waitExposed(tabs)
    draw.canvas.add_stroke([(140, 60), (140, 220)])
    assert not draw.undo_action.isEnabled()  # the canvas is not on screen
    tabs.setCurrentWidget(draw)
    assert draw.undo_action.isEnabled() and draw.clear_action.isEnabled()
    tabs.setCurrentIndex(0)
    assert not draw.undo_action.isEnabled() and not draw.clear_action.isEnabled()
    assert draw.shutdown(10.0)


def test_strokes_are_round_smooth_and_antialiased(qtbot) -> None:
    canvas = DrawingCanvas()
    qtbot.addWidget(canvas)
    canvas.set_pen_width(20)
    canvas.add_stroke([(60, 140), (140, 100), (220, 140)])  # three samples: one curve
    ink = canvas.ink_array()
    assert ink.shape == (280, 280) and ink.dtype == np.uint8
    assert ink[140, 60] == 255 and ink[140, 220] == 255  # through the end samples
    assert ink[140, 52] > 0 and ink[140, 48] == 0  # round cap: half the pen width beyond
    # The samples are control points: the curve peaks at y = 110, a polyline would reach 100.
    assert ink[94, 140] == 0 and ink[110, 140] == 255
    greys = np.count_nonzero((ink > 0) & (ink < 255))
    assert greys > 50  # antialiased edges
    canvas.add_stroke([(30, 30)])  # a single click leaves a round dot
    assert canvas.ink_array()[30, 30] == 255


def test_a_dot_is_not_a_digit(qtbot, tab: DrawTab) -> None:
    draw_stroke(qtbot, tab, [(0.5, 0.5)])
    assert len(tab.canvas.strokes) == 1
    assert_blank(tab)
    assert not tab.save_digit_action.isEnabled()


@pytest.mark.parametrize("kind", ["random bytes", "three channels"])
def test_a_broken_model_shows_an_error_and_keeps_the_current_one(
        qtbot, tab: DrawTab, tmp_path: Path, dialogs, monkeypatch, kind: str) -> None:
    before = tab.classifier
    bad = tmp_path / "bad.onnx"
    if kind == "random bytes":
        bad.write_bytes(np.random.default_rng(0).bytes(2000))
    else:
        w = numpy_helper.from_array(np.zeros((3 * 784, 10), np.float32), "W")
        graph = helper.make_graph(
            [helper.make_node("Flatten", ["x"], ["f"], axis=1),
             helper.make_node("MatMul", ["f", "W"], ["y"])], "rgb",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 28, 28])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], [w])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
                  str(bad))
    # Through "Open ONNX…", as a user would.
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    picker = tab.primary.picker
    settled(qtbot, picker, picker.open_button.click)
    errors = texts(dialogs)
    assert len(errors) == 1 and "bad.onnx" in errors[0] and before.path.name in errors[0]
    if kind == "three channels":
        assert "(N, 3, 28, 28)" in errors[0]
    assert tab.classifier is before
    assert picker.combo.currentData() == str(before.path.resolve())
    settled(qtbot, picker, lambda: tab.load_model(str(tmp_path / "missing.onnx")))  # the window's
    assert len(dialogs) == 2 and tab.classifier is before


def test_compare_shows_two_predictions(qtbot, tab: DrawTab, tmp_path: Path) -> None:
    other = gemm_onnx(tmp_path / "other.onnx", seed=3)
    tab.compare_box.setChecked(True)
    assert tab.secondary.isVisible()
    wait_idle(qtbot, tab)
    settled(qtbot, tab.secondary.picker, lambda: tab.secondary.picker.select_path(str(other)))
    draw_digit(qtbot, tab)
    first, second = tab.primary.view, tab.secondary.view
    assert first.prediction is not None and second.prediction is not None
    assert second.digit_text == str(second.prediction.digit)
    assert tab.secondary.classifier.path.name == "other.onnx"
    assert "other.onnx" in tab.secondary.picker.combo.currentText()
    tab.compare_box.setChecked(False)
    assert not tab.secondary.isVisible()


def test_saving_to_my_digits_round_trips_and_scores(qtbot, tab: DrawTab, monkeypatch) -> None:
    draw_digit(qtbot, tab)
    shown = tab.image28.copy()
    predicted = tab.primary.view.prediction.digit
    tab.canvas.setFocus()
    qtbot.keyClick(tab.canvas, Qt.Key.Key_0 + predicted)  # number keys choose the label
    assert tab.my_digits.label == predicted
    assert tab.my_digits.save_button.text() == f"Save as {predicted}"
    with qtbot.waitSignal(tab.my_digits_changed):
        qtbot.keyClick(tab.canvas, Qt.Key.Key_Return)  # Enter saves
    images, labels = tab.store.images_labels()
    assert labels.tolist() == [predicted]
    np.testing.assert_allclose(images[0], shown, atol=0.5 / 255 + 1e-6)
    assert tab.canvas.strokes == ()  # cleared for the next digit ...
    assert tab.my_digits._counts[predicted].text() == "1"
    wait_idle(qtbot, tab)  # scoring runs in the background
    assert "100.0 % right (1 of 1)" in tab.primary.score.text()
    tab.undo_action.trigger()  # ... and undo brings the drawing back
    assert tab.image28 is not None

    tab.my_digits.set_label((predicted + 1) % 10)
    monkeypatch.setattr("app.draw.my_digits_panel.ask_to_save_anyway", lambda *a: True)
    tab.my_digits.save_button.click()
    wait_idle(qtbot, tab)
    assert "50.0 % right (1 of 2)" in tab.primary.score.text()
    tab.my_digits.remove_last()
    wait_idle(qtbot, tab)
    assert tab.store.count() == 1 and "(1 of 1)" in tab.primary.score.text()


def test_nothing_to_save_on_a_blank_canvas(tab: DrawTab) -> None:
    assert not tab.my_digits.save_button.isEnabled()
    assert not tab.save_digit(3)
    assert tab.store.count() == 0


def test_settings_persist(qtbot, tab: DrawTab, settings: QSettings, tmp_path: Path,
                          model_path: Path) -> None:
    other = gemm_onnx(tmp_path / "other.onnx", seed=5)
    tab.pen_slider.setValue(31)
    tab.set_compare(True)
    wait_idle(qtbot, tab)
    settled(qtbot, tab.secondary.picker, lambda: tab.secondary.picker.select_path(str(other)))
    tab.my_digits.set_label(6)
    settings.sync()
    again = make_tab(qtbot, settings, tab.store.root)
    assert again.canvas.pen_width == 31 and again.pen_value.text() == "31"
    assert again.compare_box.isChecked()
    assert again.my_digits.label is None  # a label belongs to one drawing, never remembered
    assert again.classifier.path == model_path.resolve()
    assert again.secondary.classifier.path == other.resolve()
    assert again.shutdown(10.0)


def test_missing_bundled_model_is_said_and_a_model_can_still_be_opened(
        qtbot, settings: QSettings, tmp_path: Path, monkeypatch, dialogs) -> None:
    missing = tmp_path / "nowhere" / "default.onnx"
    monkeypatch.setattr("app.draw.tab.bundled_model_path", lambda: missing)
    monkeypatch.setattr("app.draw.model_picker.bundled_model_path", lambda: missing)
    widget = DrawTab(settings=settings, store=MyDigits(tmp_path / "md"))
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.status_message, check_params_cb=lambda t: "missing" in t):
        pass  # said once the event loop runs, when the main window listens
    assert widget.classifier is None and dialogs == []  # no dialog at start-up
    assert "missing" in widget.primary.picker.combo.itemText(0)
    assert widget.primary.picker.combo.currentIndex() == -1  # shows "No model loaded"
    assert widget.primary.view.confidence_text == "no model loaded"
    widget.canvas.add_stroke([(140, 60), (140, 220)])
    assert widget.image28 is not None  # the preview works without a model
    assert widget.primary.view.confidence_text == "no model loaded"
    settled(qtbot, widget.primary.picker,
            lambda: widget.load_model(str(gemm_onnx(tmp_path / "m.onnx"))))
    assert widget.primary.view.prediction is not None
    assert widget.shutdown(10.0)


def test_exports_are_listed_and_a_reexport_is_reloaded(
        qtbot, tab: DrawTab, digitlab_home: Path) -> None:
    exports = digitlab_home / "exports"
    exports.mkdir(parents=True, exist_ok=True)  # the tab made it to watch it
    path = gemm_onnx(exports / "run-a.onnx", seed=1)
    tab.refresh_models()
    combo = tab.primary.picker.combo
    assert "run-a" in [combo.itemText(i) for i in range(combo.count())]
    settled(qtbot, tab.primary.picker, lambda: tab.load_model(str(path)))
    first = tab.classifier
    assert first.path == path.resolve()
    gemm_onnx(path, seed=2)  # exported again to the same file
    settled(qtbot, tab.primary.picker, lambda: tab.load_model(str(path)))
    assert tab.classifier is not first and tab.classifier.path == path.resolve()


def test_the_draw_tab_does_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from PySide6.QtCore import QSettings\n"
        "app = QApplication([])\n"
        "import app.draw.tab, app.draw.canvas, app.draw.prob_bars, app.draw.model_picker, "
        "app.draw.my_digits_panel, app.draw.model_column, core.data.my_digits\n"
        "tab = app.draw.tab.DrawTab(settings=QSettings(sys.argv[1], QSettings.Format.IniFormat))\n"
        "tab.show()\n"
        "while tab.loading: QApplication.processEvents()\n"
        "tab.canvas.add_stroke([(140, 60), (140, 220)]); tab.update_prediction()\n"
        "assert tab.image28 is not None and tab.classifier is not None\n"
        "assert tab.shutdown(10)\n"
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "print('TORCH:', bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "settings.ini")],
                            cwd=REPO, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "TORCH: []" in result.stdout
