"""The Draw tab on a hostile My digits folder (issue 23.3): a FIFO no longer leaves scoring
stuck (and every close frozen), files left out are counted in the score and named in its
tooltip, and Remove last never deletes through a linked label folder."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QSettings

from tests.app.draw.conftest import make_tab
from tests.core.data.test_my_digits_hostile import digit
from tests.support.draw_helpers import settled, wait_idle


def test_skipped_files_are_named_and_links_not_followed(qtbot, settings: QSettings,
                                                        tmp_path: Path, model_path: Path,
                                                        dialogs) -> None:
    root = tmp_path / "my_digits"
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "29991231T235959-999999.png"
    Image.fromarray(digit()).save(victim)
    tab = make_tab(qtbot, settings, root)
    try:
        tab.store.add(digit(), 1)
        tab.store.add(digit(), 1)
        os.mkfifo(root / "1" / "pipe.png")
        (root / "7").symlink_to(outside, target_is_directory=True)
        settled(qtbot, tab.primary.picker, lambda: tab.load_model(str(model_path)))
        tab.primary.show_score(tab.store)
        wait_idle(qtbot, tab)
        text, tip = tab.primary.score.text(), tab.primary.score.toolTip()
        assert text.endswith("of 2, 2 skipped)"), text
        assert "1/pipe.png: a FIFO or device" in tip and "7: the label folder is a link" in tip
        tab.primary.score.grab().save(str(tmp_path / "score.png"))

        tab.my_digits.remove_last()
        tab.my_digits.remove_last()
        tab.my_digits.remove_last()  # nothing left inside: the linked folder's file survives
        assert tab.store.count() == 0 and victim.is_file()
        assert tab.my_digits.total.text() == "your personal test set"
        wait_idle(qtbot, tab)
    finally:
        start = time.monotonic()
        assert tab.shutdown(10.0), "a Draw-tab job did not end"
        assert time.monotonic() - start < 5
    assert np.asarray(Image.open(victim)).max() == 200
