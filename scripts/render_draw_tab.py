"""Render the Draw tab to PNG offscreen, with a hand-drawn-looking digit on the canvas.

    .venv/bin/python scripts/render_draw_tab.py --out /tmp/draw_tab_light.png
    .venv/bin/python scripts/render_draw_tab.py --dark --compare --out /tmp/draw_tab_dark.png

Uses the real user data folder unless DIGITLAB_HOME is set (exports there appear in the pickers).
Settings go to a throwaway INI file, so rendering never changes the user's preferences.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import onnxruntime  # noqa: F401  (before Qt, as the app does)
from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

# Strokes in canvas units (280 × 280), as a hand would draw them: a few points per stroke, the
# canvas smooths them. Slight wobble comes from `_wobble`.
DIGIT_STROKES: dict[str, list[list[tuple[float, float]]]] = {
    "7": [[(78, 72), (120, 70), (165, 68), (204, 70), (188, 100), (168, 135), (150, 172),
           (136, 205), (126, 232)],
          [(118, 150), (150, 148), (184, 146)]],
    "3": [[(88, 78), (118, 62), (156, 62), (182, 82), (178, 112), (150, 132), (126, 138),
           (156, 142), (186, 162), (190, 196), (166, 224), (126, 230), (90, 214)]],
    "2": [[(86, 100), (100, 72), (136, 58), (172, 68), (184, 100), (168, 136), (136, 172),
           (100, 212), (90, 226), (130, 222), (170, 220), (204, 222)]],
    "4": [[(150, 60), (126, 104), (100, 150), (90, 168), (130, 166), (170, 164), (200, 162)],
          [(170, 96), (166, 140), (164, 190), (164, 232)]],
}


def _wobble(points: list[tuple[float, float]], amount: float = 0.6) -> list[tuple[float, float]]:
    """Densify to ~3-unit steps along a Catmull-Rom curve (as dense pointer events would arrive
    from a moving hand) with a small deterministic tremor."""
    padded = [points[0], *points, points[-1]]
    out: list[tuple[float, float]] = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1 : i + 3]
        steps = max(1, int(math.dist(p1, p2) / 3))
        for j in range(steps):
            t = j / steps
            x, y = (0.5 * (2 * p1[k] + (p2[k] - p0[k]) * t
                           + (2 * p0[k] - 5 * p1[k] + 4 * p2[k] - p3[k]) * t * t
                           + (3 * p1[k] - p0[k] - 3 * p2[k] + p3[k]) * t ** 3) for k in (0, 1))
            n = len(out)
            out.append((x + amount * math.sin(n * 0.37), y + amount * math.cos(n * 0.29)))
    out.append(points[-1])
    return out


def dark_palette() -> QPalette:
    p = QPalette()
    colors = {
        QPalette.ColorRole.Window: "#202124", QPalette.ColorRole.WindowText: "#e8eaed",
        QPalette.ColorRole.Base: "#17181a", QPalette.ColorRole.AlternateBase: "#26272a",
        QPalette.ColorRole.Text: "#e8eaed", QPalette.ColorRole.Button: "#2b2c30",
        QPalette.ColorRole.ButtonText: "#e8eaed", QPalette.ColorRole.Highlight: "#3d7fd9",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#2b2c30",
        QPalette.ColorRole.ToolTipText: "#e8eaed", QPalette.ColorRole.PlaceholderText: "#9aa0a6",
        QPalette.ColorRole.Mid: "#4a4c50", QPalette.ColorRole.Dark: "#111214",
        QPalette.ColorRole.Light: "#3a3b3f", QPalette.ColorRole.Midlight: "#333438",
        QPalette.ColorRole.Shadow: "#000000", QPalette.ColorRole.Link: "#8ab4f8",
        QPalette.ColorRole.BrightText: "#ffffff",
    }
    for role, color in colors.items():
        p.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText,
                 QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6f7378"))
    return p


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="/tmp/draw_tab.png")
    parser.add_argument("--dark", action="store_true", help="dark palette (Fusion style)")
    parser.add_argument("--compare", action="store_true", help="show two models")
    parser.add_argument("--model", help="ONNX file for the first model (default: as at start)")
    parser.add_argument("--compare-model", help="ONNX file for the second model")
    parser.add_argument("--digit", default="7", choices=sorted(DIGIT_STROKES))
    parser.add_argument("--pen", type=int, default=20, help="pen width, canvas units")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="draw the digit this many times its size (0.35: a small digit)")
    parser.add_argument("--size", default="1100x700", help="WIDTHxHEIGHT")
    parser.add_argument("--save-samples", action="store_true",
                        help="first save the sample digits to My digits (adds to the real set "
                             "unless DIGITLAB_HOME points elsewhere)")
    args = parser.parse_args()

    app = QApplication.instance() or QApplication(sys.argv)
    app.setStyle("Fusion")
    if args.dark:
        app.setPalette(dark_palette())

    from app.draw.tab import DrawTab
    from app.shared.style import configure_plots

    configure_plots()
    settings_file = Path(tempfile.mkdtemp()) / "render.ini"
    tab = DrawTab(settings=QSettings(str(settings_file), QSettings.Format.IniFormat))
    tab.status_message.connect(lambda text: print("status:", text))
    width, height = (int(v) for v in args.size.split("x"))
    tab.resize(width, height)
    tab.show()
    tab.set_pen_width(args.pen)
    if args.model:
        tab.load_model(args.model)
    _wait_for_models(app, tab)
    tab.set_compare(args.compare)
    if args.compare_model:
        tab.secondary.picker.select_path(args.compare_model)
    _wait_for_models(app, tab)
    if args.save_samples:
        for label, strokes in DIGIT_STROKES.items():
            for stroke in strokes:
                tab.canvas.add_stroke(_wobble(stroke))
            tab.save_digit(int(label))
    for stroke in DIGIT_STROKES[args.digit]:
        tab.canvas.add_stroke([(140 + (x - 140) * args.scale, 140 + (y - 140) * args.scale)
                               for x, y in _wobble(stroke)])
    tab.update_prediction()
    _wait_for_models(app, tab)  # My-digits scores are computed in the background too
    tab.grab().save(args.out)
    shown = [c.view for c in tab._columns()]
    print(f"wrote {args.out}: " + ", ".join(f"{v.digit_text} ({v.confidence_text})"
                                            for v in shown))
    tab.shutdown(10.0)
    return 0


def _wait_for_models(app: QApplication, tab, timeout_s: float = 60.0) -> None:
    """Let the tab's background jobs (opening models, scoring My digits) finish."""
    end = time.monotonic() + timeout_s
    while (tab.loading or tab.primary.scoring or tab.secondary.scoring) and \
            time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)
    app.processEvents()


if __name__ == "__main__":
    sys.exit(main())
