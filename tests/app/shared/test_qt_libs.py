"""What Qt's X11 plugin needs from the system, and the install command printed for it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.shared import qt_libs

LDD = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f1)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxkbcommon-x11.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibfoo-bar2.so.3 => not found
\t/lib64/ld-linux-x86-64.so.2 (0x00007f2)
"""
DEBIAN = {"ID": "debian", "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)"}
UBUNTU = {"ID": "ubuntu", "ID_LIKE": "debian"}
FEDORA = {"ID": "fedora", "PRETTY_NAME": "Fedora Linux 41"}


def test_not_found_libraries_are_read_from_ldd_once_each() -> None:
    assert qt_libs.not_found_in_ldd(LDD) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1",
                                             "libxkbcommon-x11.so.0", "libfoo-bar2.so.3"]


def test_the_install_command_names_this_systems_packages() -> None:
    missing = [*qt_libs.not_found_in_ldd(LDD), "libxcb-cursor.so.0"]
    apt = "apt-get install -y libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 libfoo-bar2-3 " \
          "libxcb-cursor0"
    assert qt_libs.install_command(missing, DEBIAN, as_root=True) == apt
    assert qt_libs.install_command(missing, UBUNTU, as_root=False) == "sudo " + apt
    assert qt_libs.install_command(missing, FEDORA, as_root=False) == (
        "sudo dnf install -y xcb-util-wm xcb-util-keysyms libxkbcommon-x11 "
        "'libfoo-bar2.so.3()(64bit)' xcb-util-cursor")
    assert qt_libs.install_command(missing, {"ID": "arch"}, as_root=True) == ""
    text = qt_libs.advice(missing, {"ID": "arch", "PRETTY_NAME": "Arch Linux"}, as_root=True)
    assert "libxcb-keysyms.so.1" in text and "Arch Linux" in text


def test_only_the_xcb_plugin_is_checked() -> None:
    assert qt_libs.platform_to_check({}, "linux") == ""
    assert qt_libs.platform_to_check({"QT_QPA_PLATFORM": "xcb"}, "linux") == ""
    assert qt_libs.platform_to_check({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert qt_libs.platform_to_check({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux")
    assert "macOS" in qt_libs.platform_to_check({}, "darwin")


def test_os_release_is_parsed(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    release.write_text('PRETTY_NAME="Ubuntu 24.04 LTS"\nID=ubuntu\nID_LIKE=debian\n')
    assert qt_libs.read_os_release(release) == {"PRETTY_NAME": "Ubuntu 24.04 LTS",
                                                "ID": "ubuntu", "ID_LIKE": "debian"}
    assert qt_libs.read_os_release(tmp_path / "missing") == {}


def test_a_damaged_library_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A library that is there but unreadable: ldd fails; the check says so (without blocking)."""
    plugin = qt_libs.xcb_plugin()
    if plugin is None or not shutil.which("ldd"):
        pytest.skip("no PySide6 xcb plugin or no ldd here")
    (tmp_path / "libxcb-icccm.so.4").write_bytes(b"")  # shadows the real one, "file too short"
    monkeypatch.setenv("LD_LIBRARY_PATH", str(tmp_path))
    finding = qt_libs.find_missing(plugin)
    assert "libxcb-icccm.so.4" in finding.unreadable and "file too short" in finding.unreadable
