"""File dialogs start in the home folder, then where the user last chose a file (per purpose,
else of any purpose), never in the app's hidden data folder;
message boxes and tooltips show file-derived text literally."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.shared import dialogs
from core.paths import exports_dir
from tests.support.draw_helpers import displayed


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """The start paths the file dialogs were opened with; they answer `asked["answer"]`."""
    seen: dict[str, list] = {"open": [], "save": [], "answer": [""]}

    def fake(kind: str):
        def dialog(parent, title, start, name_filter):
            seen[kind].append(start)
            return seen["answer"][0], ""
        return dialog

    monkeypatch.setattr(QFileDialog, "getOpenFileName", fake("open"))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake("save"))
    return seen


def test_first_dialog_opens_in_the_home_folder_not_the_data_folder(asked, digitlab_home) -> None:
    assert dialogs.open_file(None, "Open", dialogs.ONNX_FILTER, dialogs.ONNX_FILES) is None
    assert Path(asked["open"][0]) == Path.home() != exports_dir()
    dialogs.save_file(None, "Save", dialogs.MARKDOWN_FILTER, dialogs.MARKDOWN, "runs.md")
    assert Path(asked["save"][0]) == Path.home() / "runs.md"
    assert not exports_dir().exists()  # nothing made in the data folder for a dialog


def test_each_purpose_remembers_its_last_folder(asked, tmp_path: Path) -> None:
    models, tables = tmp_path / "models", tmp_path / "tables"
    models.mkdir(), tables.mkdir()
    asked["answer"] = [str(models / "a.onnx")]
    assert dialogs.open_file(None, "Open", dialogs.ONNX_FILTER, dialogs.ONNX_FILES) == \
        models / "a.onnx"
    asked["answer"] = [str(tables / "t.md")]
    dialogs.save_file(None, "Save", dialogs.MARKDOWN_FILTER, dialogs.MARKDOWN, "runs.md")
    asked["answer"] = [""]  # cancelled: remembers nothing new
    dialogs.save_file(None, "Export", dialogs.ONNX_FILTER, dialogs.ONNX_FILES, "run-1.onnx")
    dialogs.open_file(None, "Open", dialogs.ONNX_FILTER, dialogs.ONNX_FILES)
    dialogs.save_file(None, "Save", dialogs.MARKDOWN_FILTER, dialogs.MARKDOWN, "runs.md")
    assert [Path(p) for p in asked["save"]] == [models / "runs.md",  # the last of all
                                                models / "run-1.onnx", tables / "runs.md"]
    assert Path(asked["open"][1]) == models
    # Kept in the app's settings, so the next start opens there too.
    from app.shared.settings import app_settings

    assert dialogs.start_folder(dialogs.ONNX_FILES, app_settings()) == models


def test_a_remembered_folder_that_is_gone_falls_back_to_home(asked, tmp_path: Path) -> None:
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    gone = tmp_path / "gone"
    gone.mkdir()
    dialogs.remember_folder(dialogs.ONNX_FILES, gone / "m.onnx", settings)
    assert dialogs.start_folder(dialogs.ONNX_FILES, settings) == gone
    assert dialogs.start_folder(dialogs.MARKDOWN, settings) == gone  # the last of all
    gone.rmdir()
    assert dialogs.start_folder(dialogs.ONNX_FILES, settings) == Path.home()


def test_errors_and_tooltips_show_markup_literally(qtbot, monkeypatch) -> None:
    shown: list[tuple[str, Qt.TextFormat]] = []
    monkeypatch.setattr(QMessageBox, "exec",
                        lambda box: shown.append((box.text(), box.textFormat())) or 0)
    dialogs.show_error(None, "Cannot use this model", "<h1>big.onnx</h1> is not a model")
    assert shown == [("<h1>big.onnx</h1> is not a model", Qt.TextFormat.PlainText)]
    tip = dialogs.plain_tooltip('<a href="y">z</a>\n<img src=x>')
    assert displayed(tip, Qt.TextFormat.AutoText) == '<a href="y">z</a>\n<img src=x>'
    assert dialogs.plain_tooltip("") == ""
