"""Draw DigitLab's icon: a handwritten 7 on a 28-pixel grid, as the model sees it.

    QT_QPA_PLATFORM=offscreen python scripts/make_icon.py
    → resources/icons/digitlab.{png,ico}
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPainterPath, QPen

OUT = Path(__file__).resolve().parent.parent / "resources" / "icons"


def draw(size: int = 256) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = size / 256
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#12263A"))
    p.drawRoundedRect(QRectF(8 * s, 8 * s, 240 * s, 240 * s), 48 * s, 48 * s)
    grid = QPen(QColor(255, 255, 255, 28), max(1.0, 1.2 * s))
    p.setPen(grid)
    for i in range(1, 8):  # a hint of the 28×28 pixel grid (every 4th line)
        t = (8 + 240 * i / 8) * s
        p.drawLine(QPointF(t, 20 * s), QPointF(t, 236 * s))
        p.drawLine(QPointF(20 * s, t), QPointF(236 * s, t))
    pen = QPen(QColor("#F6F7F9"), 30 * s, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
               Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    path = QPainterPath(QPointF(70 * s, 74 * s))
    path.lineTo(186 * s, 70 * s)
    path.quadTo(QPointF(140 * s, 130 * s), QPointF(112 * s, 196 * s))
    p.drawPath(path)
    p.setPen(QPen(QColor("#E69F00"), 14 * s, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    p.drawLine(QPointF(104 * s, 134 * s), QPointF(168 * s, 134 * s))  # the crossbar, in accent
    p.end()
    return image


def main() -> int:
    _app = QGuiApplication(sys.argv[:1])
    OUT.mkdir(parents=True, exist_ok=True)
    draw(256).save(str(OUT / "digitlab.png"))
    Image.open(OUT / "digitlab.png").save(OUT / "digitlab.ico",
                                          sizes=[(16, 16), (32, 32), (48, 48), (256, 256)])
    print(f"wrote {OUT / 'digitlab.png'} and {OUT / 'digitlab.ico'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
