"""Helpers for Draw-tab tests: real mouse strokes, waiting for background model loads, ONNX
files with chosen metadata, and what Qt actually displays for a label or tooltip text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import onnx
from PySide6 import QtGui
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QTextDocument

from tests.core.data.test_my_digits import gemm_onnx

SEVEN = [[(0.3, 0.25), (0.45, 0.24), (0.6, 0.24), (0.7, 0.25), (0.62, 0.4), (0.55, 0.55),
          (0.5, 0.7), (0.46, 0.8)]]
ONE = [[(0.5, 0.2), (0.5, 0.35), (0.5, 0.5), (0.5, 0.65), (0.5, 0.8)]]
LOAD_TIMEOUT_MS = 20_000  # a model loads in a background job; generous for a busy machine


def draw_stroke(qtbot, tab, points: list[tuple[float, float]]) -> None:
    """Press, move through `points` (fractions of the canvas widget), release: real events."""
    canvas = tab.canvas
    at = [QPoint(int(x * canvas.width()), int(y * canvas.height())) for x, y in points]
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=at[0])
    for pos in at[1:]:
        qtbot.mouseMove(canvas, pos)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=at[-1])


def draw_digit(qtbot, tab, strokes: list | None = None) -> None:
    for stroke in strokes or SEVEN:
        draw_stroke(qtbot, tab, stroke)


def settled(qtbot, picker, action: Callable[[], object]) -> None:
    """Run `action` (which chooses a model on `picker`) and wait until that choice has ended,
    loaded or refused."""
    with qtbot.waitSignal(picker.settled, timeout=LOAD_TIMEOUT_MS):
        action()


def wait_idle(qtbot, tab) -> None:
    """Until no model is loading and no My-digits score is being computed."""
    qtbot.waitUntil(lambda: not tab.loading and not tab.primary.scoring
                    and not tab.secondary.scoring, timeout=LOAD_TIMEOUT_MS)


def named_model(path: Path, name: str, seed: int = 0, **metadata: str) -> Path:
    """A real Gemm digit model whose metadata names it `name` (as a DigitLab export does)."""
    gemm_onnx(path, seed=seed)
    model = onnx.load(str(path))
    for key, value in {"digitlab.model": name, **metadata}.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path


def displayed(text: str, fmt: Qt.TextFormat) -> str:
    """The characters Qt shows for `text` in a label (or tooltip, AutoText) of format `fmt`:
    rich text is rendered, so tags vanish (and pictures, links appear instead)."""
    doc = QTextDocument()
    rich = fmt == Qt.TextFormat.RichText or (fmt == Qt.TextFormat.AutoText
                                             and QtGui.Qt.mightBeRichText(text))
    if rich:
        doc.setHtml(text)
    else:
        doc.setPlainText(text)
    return doc.toPlainText()
