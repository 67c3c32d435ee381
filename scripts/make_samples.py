"""Write the drawn sample digits shipped in resources/samples/ (for `DigitLab --self-test`).

Each digit is a list of pen strokes (polylines on a 280×280 canvas, drawn the way a person draws
it with a mouse: a few strokes, uneven proportions). They are stored as JSON so the self-test can
replay them through the real Draw-tab canvas, and rendered to PNG for `digitlab-cli predict`.

    QT_QPA_PLATFORM=offscreen python scripts/make_samples.py
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPainterPath, QPen

OUT = Path(__file__).resolve().parent.parent / "resources" / "samples"
SIZE = 280
PEN = 18.0


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float,
        n: int = 24) -> list[tuple[float, float]]:
    """Points on an elliptical arc; angles in degrees, 0 = right, 90 = down (screen y)."""
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in (start + (end - start) * i / n for i in range(n + 1))]


STROKES: dict[int, list[list[tuple[float, float]]]] = {
    0: [arc(140, 140, 58, 92, -90, 275)],
    1: [[(118, 78), (152, 46), (150, 140), (148, 236)]],
    2: [[*arc(138, 100, 52, 52, 200, 360), (172, 150), (130, 195), (88, 234), (200, 230)]],
    3: [arc(136, 90, 50, 44, 210, 450)[:-4] + arc(138, 180, 56, 52, -90, 150)],
    4: [[(160, 48), (84, 168), (206, 168)], [(170, 100), (168, 236)]],
    5: [[(192, 50), (104, 52), (96, 126), *arc(140, 168, 58, 58, -135, 140)]],
    6: [[(176, 50), (128, 84), (98, 150), *arc(142, 186, 48, 48, 180, 540)]],
    7: [[(80, 52), (198, 50), (146, 140), (118, 236)]],
    8: [arc(140, 92, 46, 44, 90, 450) + arc(140, 182, 54, 50, -90, 270)],
    9: [arc(138, 98, 50, 48, 0, 370), [(188, 98), (182, 170), (170, 238)]],
}


def render(strokes: list[list[tuple[float, float]]]) -> QImage:
    image = QImage(SIZE, SIZE, QImage.Format.Format_ARGB32)
    image.fill(QColor(0, 0, 0, 0))  # transparent, as the Draw tab's canvas
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor("white"), PEN, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                        Qt.PenJoinStyle.RoundJoin))
    for stroke in strokes:
        path = QPainterPath(QPointF(*stroke[0]))
        for x, y in stroke[1:]:
            path.lineTo(x, y)
        painter.drawPath(path)
    painter.end()
    return image


def main() -> int:
    _app = QGuiApplication(sys.argv[:1])
    OUT.mkdir(parents=True, exist_ok=True)
    data = {str(d): [[[round(x, 1), round(y, 1)] for x, y in s] for s in strokes]
            for d, strokes in STROKES.items()}
    (OUT / "strokes.json").write_text(json.dumps({"canvas": SIZE, "pen": PEN, "digits": data}))
    for digit, strokes in STROKES.items():
        render(strokes).save(str(OUT / f"drawn_{digit}.png"))
    print(f"wrote {len(STROKES)} samples to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
