"""Before a run starts: the learning-rate schedule it will follow, and what augmentation does.

The schedule comes from the torch-free `core.training.config.lr_curve`, so it redraws
instantly as the form
changes. The augmentation grid (`core.data.augment_preview`) needs torch and the real MNIST files:
it is computed in a job, one at a time (a newer request waits for the running one and replaces
older waiting ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from app.shared.jobs import JobRunner
from app.shared.style import series_color
from app.shared.wording import plural
from app.train.form import SCHEDULE_NAMES
from core.training.config import TrainConfig, lr_curve

ZOOM = 2  # screen pixels per MNIST pixel


def planned_lr(config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """(epochs, learning rates) of the whole run, for a training set of the configured size."""
    n_train = config.train_subset or 60_000
    points = np.asarray(lr_curve(config, n_train=n_train))
    return points[:, 0], points[:, 1]


class LrPreview(pg.PlotWidget):
    """The learning rate over the run, per epoch."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        item = self.getPlotItem()
        item.setTitle("Learning-rate schedule")
        item.setLabel("bottom", "epoch")
        item.setLabel("left", "learning rate")
        item.showGrid(x=True, y=True, alpha=0.15)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.getAxis("left").enableAutoSIPrefix(False)  # "0.05", not "50 (×0.001)"
        self.curve = item.plot(pen=pg.mkPen(series_color(0), width=2))

    def set_config(self, config: TrainConfig) -> None:
        epochs, lrs = planned_lr(config)
        self.curve.setData(epochs, lrs)
        name = SCHEDULE_NAMES.get(config.schedule, config.schedule)
        self.getPlotItem().setTitle(f"Learning-rate schedule · {name}, peak {config.lr:g}, "
                                    f"{plural(config.epochs, 'epoch')}")


@dataclass(frozen=True)
class GridRequest:
    folder: str
    strength: float
    stroke: float
    aspect: float = 0.0


def grid_job(request: GridRequest) -> np.ndarray:
    """A job: `core.data.augment_preview.augmentation_grid` for `request` (imports torch)."""
    from core.data.augment_preview import augmentation_grid

    return augmentation_grid(request.folder, request.strength, request.stroke, request.aspect)


def tiles_pixmap(tiles: np.ndarray, zoom: int = ZOOM, gap: int = 6) -> QPixmap:
    """Tiles (rows, cols, 28, 28) on a transparent sheet; a wider gap under the first row."""
    n_rows, n_cols = tiles.shape[:2]
    side = 28 * zoom
    width = n_cols * side + (n_cols - 1) * gap
    height = n_rows * side + (n_rows - 1) * gap + gap
    sheet = QPixmap(width, height)
    sheet.fill(Qt.GlobalColor.transparent)
    painter = QPainter(sheet)
    for r in range(n_rows):
        top = r * (side + gap) + (gap if r else 0)
        for c in range(n_cols):
            painter.drawPixmap(c * (side + gap), top, gray_pixmap(tiles[r, c], zoom))
    painter.end()
    return sheet


def gray_pixmap(image: np.ndarray, zoom: int = ZOOM) -> QPixmap:
    """uint8 (H, W) → a pixmap scaled by whole pixels (no smoothing: the real MNIST pixels)."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    h, w = image.shape
    qimage = QImage(image.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(qimage).scaled(w * zoom, h * zoom,
                                            Qt.AspectRatioMode.IgnoreAspectRatio,
                                            Qt.TransformationMode.FastTransformation)


class AugmentationPreview(QWidget):
    """Ten real training digits and three augmented draws of each, at the chosen strength."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("<b>Augmentation</b>")
        layout.addWidget(self.title)
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.image.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        layout.addWidget(self.image)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: gray")
        self.note.setTextFormat(Qt.TextFormat.PlainText)  # quotes folders and error messages
        layout.addWidget(self.note)
        self.jobs = JobRunner(self)
        self._pending: GridRequest | None = None
        self._shown: GridRequest | None = None
        self.last_grid: np.ndarray | None = None

    def request(self, folder: Path, strength: float, stroke: float, aspect: float = 0.0) -> None:
        """Show the grid for these settings; computed in the background."""
        from core.data.mnist import find_mnist_files

        if find_mnist_files(folder) is None:
            self._pending = None
            self.image.clear()
            self.note.setText(f"MNIST is not in {folder}, so there are no training digits to "
                              f"show yet. Fetch it or choose its folder above.")
            return
        wanted = GridRequest(str(folder), round(strength, 3), round(stroke, 3), round(aspect, 3))
        if wanted == self._shown:
            return
        self._pending = wanted
        if not self.jobs.busy:
            self._start_next()

    def _start_next(self) -> None:
        request, self._pending = self._pending, None
        if request is None:
            return
        self.note.setText("Drawing augmented samples…")
        self._requested = request
        self.jobs.start(grid_job, request, on_done=self._show, on_error=self._failed)

    def _show(self, grid: np.ndarray) -> None:
        self.last_grid = grid
        self._shown = self._requested
        self.image.setPixmap(tiles_pixmap(grid))
        r = self._requested
        self.title.setText(f"<b>Augmentation</b> · strength {r.strength:g} · "
                           f"stroke jitter {r.stroke:g} · aspect jitter {r.aspect:g}")
        self.note.setText("Top row: training digits as stored. Below: three random draws of "
                          "what the network sees at this strength.")
        self._start_next()  # the newest request that arrived meanwhile, if any

    def _failed(self, error: BaseException) -> None:
        self.image.clear()
        self.note.setText(f"Could not draw the augmentation preview: {error}")
        self._start_next()

    def cancel_pending(self) -> None:
        """Forget requests not started yet (the one drawing now still finishes)."""
        self._pending = None

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Drop waiting requests and wait up to `timeout` s for the one drawing now."""
        self.cancel_pending()
        return self.jobs.shutdown(timeout)
