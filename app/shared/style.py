"""Look and feel shared by every tab: plot colours that follow the system light/dark palette.

Call `configure_plots()` once after the QApplication exists and before any plot is created.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

# Okabe-Ito: distinguishable with every common colour-vision deficiency, on light and dark.
SERIES_COLORS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
                 "#000000"]
OK_COLOR = "#009E73"  # target met
BAD_COLOR = "#D55E00"  # target missed


def series_color(index: int) -> str:
    """The colour of the index-th curve; black becomes white on a dark palette."""
    color = SERIES_COLORS[index % len(SERIES_COLORS)]
    if color == "#000000" and is_dark():
        return "#FFFFFF"
    return color


def is_dark() -> bool:
    app = QApplication.instance()
    if app is None:
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def palette_color(role: QPalette.ColorRole) -> QColor:
    app = QApplication.instance()
    return app.palette().color(role) if app is not None else QColor("white")


def configure_plots() -> None:
    """pyqtgraph draws on the window colour with text-coloured axes, antialiased."""
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True,
                        background=palette_color(QPalette.ColorRole.Base),
                        foreground=palette_color(QPalette.ColorRole.Text))
