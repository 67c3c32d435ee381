"""The MNIST banner speaks to someone at the window: no command-line options, no raw errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from app.train.data_banner import DataBanner


@pytest.fixture
def banner(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataBanner:
    monkeypatch.setenv("DIGITLAB_DATA", str(tmp_path / "mnist"))
    widget = DataBanner(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(widget)
    widget.resize(1100, 80)
    yield widget
    assert widget.shutdown()


def visible_text(banner: DataBanner) -> str:
    return banner.text.text() + " " + banner.text.toolTip()


def test_a_failed_download_says_what_to_do_in_the_window(qtbot, banner: DataBanner,
                                                         monkeypatch) -> None:
    pytest.importorskip("torchvision")
    import urllib.error

    import core.data.mnist

    def offline(url: str, dest: Path, what: str, progress) -> None:
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(core.data.mnist, "_download", offline)
    assert not banner.isHidden() and not banner.details_button.isVisibleTo(banner)
    banner.fetch()
    qtbot.waitUntil(lambda: not banner.jobs.busy, timeout=30_000)
    shown = visible_text(banner)
    assert "Could not download MNIST" in shown and "choose a folder" in shown
    for cli_words in ("--data", "DIGITLAB_DATA", "http", "Errno", "idx3-ubyte"):
        assert cli_words not in shown  # options of the CLI, URLs, raw errors: not here
    assert banner.details_button.isVisibleTo(banner) and banner.fetch_button.isVisibleTo(banner)
    banner.show_details()  # the raw error, for a bug report, is one click away
    assert "Temporary failure in name resolution" in banner.details
    banner.details_dialog.close()


def test_the_missing_data_banner_names_no_cli_options(banner: DataBanner) -> None:
    shown = visible_text(banner)
    assert "MNIST is not on this computer" in shown and "--data" not in shown
    assert "DIGITLAB_DATA" not in shown


def test_cancel_returns_the_banner_to_its_buttons(qtbot, banner: DataBanner,
                                                  monkeypatch) -> None:
    pytest.importorskip("torchvision")
    import core.data.mnist

    def slow(url: str, dest: Path, what: str, progress) -> None:
        for i in range(500):
            progress(what, (i + 1) * 1024, 500 * 1024)
            time.sleep(0.01)

    monkeypatch.setattr(core.data.mnist, "_download", slow)
    messages: list[str] = []
    banner.status_message.connect(messages.append)
    banner.fetch()
    assert banner.cancel_button.isVisibleTo(banner)
    qtbot.waitUntil(lambda: "MB" in banner.progress_text.text(), timeout=10_000)
    banner.cancel()
    qtbot.waitUntil(lambda: not banner.jobs.busy, timeout=10_000)
    assert messages == ["Fetching MNIST was cancelled."]
    assert banner.fetch_button.isVisibleTo(banner) and not banner.cancel_button.isVisibleTo(banner)
