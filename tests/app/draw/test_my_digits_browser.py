"""My digits in the app (issue 26.6): the saved drawings as thumbnails per label, read in a job;
opening the folder without a file manager says so and where the folder is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from app.draw import my_digits_browser
from app.draw.my_digits_browser import THUMB_PX, MyDigitsBrowser, open_folder, thumbnail
from core.data.my_digits import MyDigits
from tests.core.training.test_finetune import hand


@pytest.fixture
def said(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    texts: list[str] = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: texts.append(box.text()) or 0)
    return texts


def _browser(qtbot, store: MyDigits) -> MyDigitsBrowser:  # type: ignore[no-untyped-def]
    dialog = MyDigitsBrowser(store)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: not dialog.jobs.busy, timeout=30_000)
    return dialog


def test_thumbnails_per_label_with_the_files_left_out(qtbot, tmp_path: Path) -> None:
    store = MyDigits(tmp_path / "my")
    images, labels = hand(2)
    for image, label in zip(images[:6], labels[:6], strict=True):
        store.add(image, int(label))
    (store.root / "3").mkdir(parents=True, exist_ok=True)
    (store.root / "3" / "broken.png").write_bytes(b"not a png")
    dialog = _browser(qtbot, store)
    assert dialog.tabs.count() == 10
    counts = {dialog.tabs.tabText(i): dialog.tabs.widget(i).count() for i in range(10)}
    expected = {f"{d} ({list(labels[:6]).count(d)})": list(labels[:6]).count(d)
                for d in range(10)}
    assert counts == expected
    assert dialog.summary.text().startswith("6 saved drawings in ")
    assert not dialog.skipped.isHidden() and "3/broken.png" in dialog.skipped.text()
    close = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Close)
    assert close is not None


def test_an_empty_store_says_how_to_save(qtbot, tmp_path: Path) -> None:
    dialog = _browser(qtbot, MyDigits(tmp_path / "none"))
    assert dialog.summary.text().startswith("No drawings saved yet")


def test_a_thumbnail_keeps_ink_white_on_black() -> None:
    image = np.zeros((28, 28), np.float32)
    image[10:18, 13:15] = 1.0
    pixmap = thumbnail(image)
    assert pixmap.width() == THUMB_PX
    picture = pixmap.toImage()
    assert picture.pixelColor(28, 28).value() == 255 and picture.pixelColor(2, 2).value() == 0


def test_without_a_file_manager_it_says_where_the_folder_is(qtbot, tmp_path: Path, said,
                                                             monkeypatch) -> None:
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)
    assert not open_folder(None, tmp_path / "my")
    assert len(said) == 1 and "No file manager opened the folder" in said[0]
    assert str(tmp_path / "my") in said[0] and (tmp_path / "my").is_dir()
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: True)
    assert open_folder(None, tmp_path / "my") and len(said) == 1  # opened: nothing to say


def test_the_panel_menu_browses_and_opens(qtbot, tab, said, monkeypatch) -> None:
    panel = tab.my_digits
    actions = [a.text() for a in panel.more.menu().actions()]
    assert "Browse My digits…" in actions and "Open the My digits folder" in actions
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)
    panel.open_folder()
    assert said and str(tab.store.root) in said[0]
    panel.browse()
    assert isinstance(panel.browser, my_digits_browser.MyDigitsBrowser)
    qtbot.waitUntil(lambda: not panel.browser.jobs.busy, timeout=30_000)
    panel.browser.reject()
