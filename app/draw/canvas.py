"""The drawing canvas (mouse, pen tablet or touch) and the 28×28 preview of what the model sees.

Strokes are kept as vectors in canvas units (a 280 × 280 square, whatever the widget's size), so
the display can be re-rendered sharply at any size and device pixel ratio, and the model always
gets the same 280 × 280 rendering: preprocessing never depends on the screen.

History is stroke-level and snapshot-based: the state is a tuple of immutable strokes, and undo
and redo swap whole tuples. That makes "clear" undoable too, at the cost of a few references.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from core.data.canvas import CANVAS_SIDE
from core.data.strokes import strokes_to_mnist

CANVAS_UNITS = CANVAS_SIDE  # logical side of the drawing square; strokes live in these coordinates
DEFAULT_PEN = 20.0  # canvas units: ~2 px of a 28 px MNIST digit once the ink box is scaled to 20
PEN_RANGE = (6, 44)


@dataclass(frozen=True)
class Stroke:
    points: tuple[tuple[float, float], ...]  # canvas units, in drawing order
    width: float  # canvas units


def stroke_path(points: tuple[tuple[float, float], ...] | list[tuple[float, float]]
                ) -> QPainterPath:
    """A smooth path through pointer samples: quadratic curves between segment midpoints.

    Each sample is the control point of a curve from the previous midpoint to the next, so
    sparse samples (fast moves, coalesced events) still give round, kink-free strokes; the
    ends are straight to the first and last samples so the stroke covers exactly what was drawn.
    """
    path = QPainterPath(QPointF(*points[0]))
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        mid = QPointF((x0 + x1) / 2, (y0 + y1) / 2)
        if path.elementCount() == 1:
            path.lineTo(mid)
        else:
            path.quadTo(QPointF(x0, y0), mid)
    path.lineTo(QPointF(*points[-1]))
    return path


def _ink_pen(color: QColor, width: float) -> QPen:
    pen = QPen(color, width)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


def _draw_strokes(painter: QPainter, strokes: list[Stroke] | tuple[Stroke, ...],
                  color: QColor) -> None:
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    for stroke in strokes:
        if len(stroke.points) == 1:  # a click: a round dot (a zero-length path draws nothing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            radius = stroke.width / 2
            painter.drawEllipse(QPointF(*stroke.points[0]), radius, radius)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            continue
        painter.setPen(_ink_pen(color, stroke.width))
        painter.drawPath(stroke_path(stroke.points))


class DrawingCanvas(QWidget):
    """A square drawing area with stroke-level undo/redo. Ink follows the palette's Text colour
    on its Base colour, so it reads well in light and dark themes; the model's copy is always
    white on black (`ink_array`)."""

    changed = Signal()  # any change of what is drawn: each pointer move, undo, redo, clear
    history_changed = Signal()  # can_undo / can_redo may have changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 240)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw a digit with the mouse, a pen or a finger")
        self.pen_width = DEFAULT_PEN
        self._strokes: tuple[Stroke, ...] = ()
        self._undo: list[tuple[Stroke, ...]] = []
        self._redo: list[tuple[Stroke, ...]] = []
        self._current: list[tuple[float, float]] | None = None  # points of the stroke in progress
        self._backing = QImage()  # committed strokes at device resolution, transparent elsewhere

    # ------------------------------------------------------------------ state

    @property
    def strokes(self) -> tuple[Stroke, ...]:
        return self._strokes

    def is_empty(self) -> bool:
        return not self._strokes and self._current is None

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def set_pen_width(self, width: float) -> None:
        """Width of the next strokes, in canvas units (strokes already drawn keep theirs)."""
        self.pen_width = float(min(max(width, PEN_RANGE[0]), PEN_RANGE[1]))

    def add_stroke(self, points: list[tuple[float, float]], width: float | None = None) -> None:
        """Append a whole stroke (canvas units) as if drawn: for scripts, tests and replays."""
        if points:
            self._commit(Stroke(tuple(points), float(width or self.pen_width)))

    def undo(self) -> None:
        self._finish_stroke()
        if self._undo:
            self._redo.append(self._strokes)
            self._set_strokes(self._undo.pop())

    def redo(self) -> None:
        self._finish_stroke()
        if self._redo:
            self._undo.append(self._strokes)
            self._set_strokes(self._redo.pop())

    def clear(self) -> None:
        """Empty the canvas; undo brings the strokes back."""
        self._finish_stroke()
        if self._strokes:
            self._undo.append(self._strokes)
            self._redo.clear()
            self._set_strokes(())

    def ink_array(self) -> np.ndarray:
        """(280, 280) uint8, white ink on black, including the stroke in progress."""
        image = QImage(CANVAS_UNITS, CANVAS_UNITS, QImage.Format.Format_Grayscale8)
        image.fill(0)
        painter = QPainter(image)
        strokes = list(self._strokes)
        if self._current:
            strokes.append(Stroke(tuple(self._current), self.pen_width))
        _draw_strokes(painter, strokes, QColor(255, 255, 255))
        painter.end()
        rows = np.frombuffer(image.constBits(), np.uint8).reshape(
            CANVAS_UNITS, image.bytesPerLine())
        return rows[:, :CANVAS_UNITS].copy()  # drop row padding; own the memory

    def model_input(self) -> np.ndarray | None:
        """The (28, 28) float32 image the model reads, or None for "no digit": the strokes
        (including the one in progress) redrawn at MNIST's scale and stroke width, whatever
        the pen width and the size they were drawn at (`core.data.strokes`)."""
        polylines = [stroke.points for stroke in self._strokes]
        pens = [stroke.width for stroke in self._strokes]
        if self._current:
            polylines.append(tuple(self._current))
            pens.append(self.pen_width)
        return strokes_to_mnist(polylines, canvas_side=CANVAS_UNITS, pen=max(pens, default=0.0))

    # ------------------------------------------------------------------ geometry

    def sizeHint(self) -> QSize:
        return QSize(CANVAS_UNITS + 140, CANVAS_UNITS + 140)

    def _square(self) -> QRectF:
        """The drawing square inside the widget, centred, in widget coordinates."""
        side = max(1, min(self.width(), self.height()) - 2)
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def _to_canvas(self, pos: QPointF) -> tuple[float, float]:
        sq = self._square()
        scale = CANVAS_UNITS / sq.width()
        return ((pos.x() - sq.x()) * scale, (pos.y() - sq.y()) * scale)

    def _paint_transform(self, painter: QPainter) -> None:
        sq = self._square()
        painter.translate(sq.topLeft())
        painter.scale(sq.width() / CANVAS_UNITS, sq.width() / CANVAS_UNITS)

    # ------------------------------------------------------------------ pointer

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        self._current = [self._to_canvas(event.position())]
        self.update()
        self.changed.emit()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._current is None or not event.buttons() & Qt.MouseButton.LeftButton:
            return super().mouseMoveEvent(event)
        point = self._to_canvas(event.position())
        last = self._current[-1]
        # Sub-unit jitter adds path elements without changing the ink.
        if abs(point[0] - last[0]) + abs(point[1] - last[1]) < 0.5:
            return None
        self._current.append(point)
        self._update_near_pen()
        self.changed.emit()
        return None

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._current is None:
            return super().mouseReleaseEvent(event)
        point, last = self._to_canvas(event.position()), self._current[-1]
        if abs(point[0] - last[0]) + abs(point[1] - last[1]) >= 0.5:
            self._current.append(point)
        self._finish_stroke()
        return None

    def _finish_stroke(self) -> None:
        if self._current is not None:
            points, self._current = self._current, None
            self._commit(Stroke(tuple(points), self.pen_width))

    def _commit(self, stroke: Stroke) -> None:
        self._undo.append(self._strokes)
        self._redo.clear()
        self._strokes = (*self._strokes, stroke)
        if not self._backing.isNull():  # incremental: paint just the new stroke
            painter = QPainter(self._backing)
            self._paint_transform(painter)  # the image's DPR maps widget coordinates
            _draw_strokes(painter, [stroke], self._ink_color())
            painter.end()
        self.update()
        self.changed.emit()
        self.history_changed.emit()

    def _set_strokes(self, strokes: tuple[Stroke, ...]) -> None:
        self._strokes = strokes
        self._render_backing()
        self.update()
        self.changed.emit()
        self.history_changed.emit()

    def _update_near_pen(self) -> None:
        """Repaint only the widget area the newest segment can touch: its curve stays within
        the hull of the last three samples, so their box plus half the pen width covers it."""
        if not self._current:
            return
        sq = self._square()
        scale = sq.width() / CANVAS_UNITS
        pts = self._current[-3:]
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        pad = self.pen_width / 2 + 2
        rect = QRectF(min(xs) - pad, min(ys) - pad, max(xs) - min(xs) + 2 * pad,
                      max(ys) - min(ys) + 2 * pad)
        self.update(QRect(int(sq.x() + rect.x() * scale) - 1, int(sq.y() + rect.y() * scale) - 1,
                          int(rect.width() * scale) + 3, int(rect.height() * scale) + 3))

    # ------------------------------------------------------------------ painting

    def _ink_color(self) -> QColor:
        return self.palette().color(QPalette.ColorRole.Text)

    def _render_backing(self) -> None:
        """Re-render all committed strokes at the widget's device resolution."""
        dpr = self.devicePixelRatioF()
        size = QSize(max(1, round(self.width() * dpr)), max(1, round(self.height() * dpr)))
        self._backing = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
        self._backing.setDevicePixelRatio(dpr)
        self._backing.fill(Qt.GlobalColor.transparent)
        painter = QPainter(self._backing)
        self._paint_transform(painter)  # the image's DPR maps widget coordinates
        _draw_strokes(painter, self._strokes, self._ink_color())
        painter.end()

    def resizeEvent(self, event: QResizeEvent) -> None:
        # Never taller than wide: spare height goes to the layout below, not a blank band.
        if self.maximumHeight() != max(self.minimumHeight(), self.width()):
            self.setMaximumHeight(max(self.minimumHeight(), self.width()))
        self._render_backing()
        super().resizeEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange and not self._backing.isNull():
            self._render_backing()  # the ink colour follows the theme
        super().changeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        palette = self.palette()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Window))
        sq = self._square()
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(sq.adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
        if self.is_empty():
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(sq, Qt.AlignmentFlag.AlignCenter, "Draw a digit here")
        if self._backing.isNull():
            self._render_backing()
        painter.drawImage(0, 0, self._backing)
        if self._current:
            self._paint_transform(painter)
            _draw_strokes(painter, [Stroke(tuple(self._current), self.pen_width)],
                          self._ink_color())
        painter.end()


class PixelPreview(QWidget):
    """The 28×28 image fed to the model, enlarged with nearest-neighbour so pixels show.

    Always white on black, as the model sees it, whatever the theme: this is the truth the
    prediction is made from.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self.setFixedSize(168, 168)  # 6 screen pixels per MNIST pixel: visible, not dominant
        self.setToolTip("The 28×28 image the model sees: your strokes redrawn with an "
                        "MNIST-like pen, scaled to fit 20×20 and centred by their centre of "
                        "mass, as MNIST digits were made")

    def has_image(self) -> bool:
        return self._image is not None

    def set_image(self, image28: np.ndarray | None) -> None:
        """(28, 28) float in [0, 1] white on black, or None for "no digit"."""
        if image28 is None:
            self._image = None
        else:
            grey = np.ascontiguousarray(np.clip(image28, 0, 1) * 255 + 0.5, dtype=np.uint8)
            # copy(): QImage must not keep pointing into the numpy buffer.
            self._image = QImage(grey.data, 28, 28, 28, QImage.Format.Format_Grayscale8).copy()
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        paint_pixels(self, self._image, "no digit")


def paint_pixels(widget: QWidget, image: QImage | None, note: str) -> None:
    """Paint a 28×28 image on `widget`, top-centred, a whole number of screen pixels per image
    pixel (every pixel the same size), on black with a thin frame; `note` when there is none.
    The model-input preview and the explain heat map look alike through this."""
    painter = QPainter(widget)
    side = max(28, (min(widget.width(), widget.height()) // 28) * 28)
    target = QRect((widget.width() - side) // 2, 0, side, side)  # top: under its caption
    painter.fillRect(target, QColor(0, 0, 0))
    if image is not None:
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(target, image)
    else:
        painter.setPen(QColor(140, 140, 140))
        painter.drawText(target, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, note)
    painter.setPen(QPen(widget.palette().color(QPalette.ColorRole.Mid), 1))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(target.adjusted(0, 0, -1, -1))
    painter.end()
