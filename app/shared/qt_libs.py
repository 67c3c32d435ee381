"""Does Qt's X11 platform plugin find its system libraries? If not, say how to install them.

On a fresh Linux machine the app can abort before it shows anything: Qt's xcb plugin
(`PySide6/Qt/plugins/platforms/libqxcb.so`) links libraries that pip cannot install
(libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, ...), and Qt's own message names only the first.
`scripts/start.sh` runs this module before the app starts:

    python -m app.shared.qt_libs      # exit 0: nothing missing (or nothing to check); 1: missing
    python -m app.shared.qt_libs --apt-packages    # just the Debian package names (for CI)

It lists what `ldd` reports as "not found" for the plugin and everything it links, plus the
libraries Qt loads only at run time, and prints the install command for this system: apt on
Debian/Ubuntu, dnf on Fedora (package names from the table below; dnf can also install a
library by its soname). Standard library only, and no Qt import: Qt is what may fail to load.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

# Libraries Qt loads with dlopen() rather than linking, so `ldd` cannot see them. Qt ≥ 6.5 stops
# with "xcb-cursor0 or libxcb-cursor0 is needed to load the Qt xcb platform plugin" without it.
RUNTIME_LOADED = ("libxcb-cursor.so.0",)

# soname → (Debian/Ubuntu package, Fedora package) for what the xcb plugin links.
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libXau.so.6": ("libxau6", "libXau"),
    "libXdmcp.so.6": ("libxdmcp6", "libXdmcp"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx"),
    "libGLdispatch.so.0": ("libglvnd0", "libglvnd"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
}


@dataclass(frozen=True)
class Finding:
    missing: list[str]  # sonames, in the order found
    skipped: str = ""  # why nothing was checked ("" when it was)
    unreadable: str = ""  # ldd's own error, e.g. a library that is there but damaged


def platform_to_check(environ: dict[str, str] | os._Environ[str], system: str) -> str:
    """"" when the xcb plugin will be used, else why there is nothing to check."""
    if system == "darwin":
        return "macOS uses Qt's cocoa plugin, which needs no system packages"
    if not system.startswith("linux"):
        return f"no X11 check on {system}"
    requested = environ.get("QT_QPA_PLATFORM", "").strip()
    first = re.split(r"[;:]", requested)[0] if requested else ""
    if first and first != "xcb":
        return f"QT_QPA_PLATFORM={requested} does not use the X11 (xcb) plugin"
    return ""


def xcb_plugin() -> Path | None:
    """libqxcb.so of the PySide6 this interpreter imports (found without importing it)."""
    spec = find_spec("PySide6")
    if spec is None or not spec.origin:
        return None
    plugin = Path(spec.origin).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def not_found_in_ldd(ldd_output: str) -> list[str]:
    """Sonames `ldd` could not resolve ("libfoo.so.1 => not found"), each once, in order."""
    found = re.findall(r"^\s*(\S+)\s+=>\s+not found", ldd_output, flags=re.MULTILINE)
    return list(dict.fromkeys(found))


def loadable(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def find_missing(plugin: Path) -> Finding:
    ldd = shutil.which("ldd")
    if ldd is None:
        return Finding([], "ldd is not installed, so the libraries cannot be listed")
    proc = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=30)
    missing = not_found_in_ldd(proc.stdout)
    missing += [s for s in RUNTIME_LOADED if s not in missing and not loadable(s)]
    errors = [line for line in proc.stdout.splitlines() + proc.stderr.splitlines()
              if "error while loading shared libraries" in line]
    return Finding(missing, unreadable=errors[0].split(": ", 1)[-1] if errors else "")


def read_os_release(path: Path = Path("/etc/os-release")) -> dict[str, str]:
    try:
        text = path.read_text()
    except OSError:
        return {}
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {k.strip(): v.strip().strip('"') for k, v in pairs}


def debian_package(soname: str) -> str:
    """Debian's name for a library package: libfoo.so.4 → libfoo4, libfoo-x11.so.0 → -x11-0."""
    if soname in PACKAGES:
        return PACKAGES[soname][0]
    stem, _, version = soname.partition(".so.")
    stem = stem.lower()
    return f"{stem}-{version}" if stem[-1].isdigit() else f"{stem}{version}"


def fedora_package(soname: str) -> str:
    """Fedora's package, or dnf's exact provides-name for the library when not in the table."""
    return PACKAGES[soname][1] if soname in PACKAGES else f"'{soname}()(64bit)'"


def install_command(missing: list[str], os_release: dict[str, str], as_root: bool) -> str:
    """The command that installs the packages holding `missing`, or "" for unknown systems."""
    family = {os_release.get("ID", ""), *os_release.get("ID_LIKE", "").split()}
    sudo = "" if as_root else "sudo "
    if family & {"debian", "ubuntu"}:
        names = dict.fromkeys(debian_package(s) for s in missing)
        return f"{sudo}apt-get install -y {' '.join(names)}"
    if family & {"fedora", "rhel", "centos"}:
        names = dict.fromkeys(fedora_package(s) for s in missing)
        return f"{sudo}dnf install -y {' '.join(names)}"
    return ""


def advice(missing: list[str], os_release: dict[str, str], as_root: bool) -> str:
    system = os_release.get("PRETTY_NAME", "this system")
    command = install_command(missing, os_release, as_root)
    how = (f"Install them ({system}):\n    {command}" if command else
           f"Install the packages of {system} that provide them (no package table for it; "
           "the README lists the Debian/Ubuntu and Fedora names).")
    return (f"DigitLab cannot open its window yet: Qt's X11 platform plugin (xcb) needs these\n"
            f"system libraries, missing here: {', '.join(missing)}.\n{how}\n"
            "Then start again. Without a display, `QT_QPA_PLATFORM=offscreen ./scripts/start.sh "
            "--self-test`\nchecks everything else.")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--apt-packages"]:
        # For .ci/run: the Debian packages to install, whatever QT_QPA_PLATFORM says now.
        plugin = xcb_plugin() if sys.platform.startswith("linux") else None
        missing = find_missing(plugin).missing if plugin else []
        print(" ".join(dict.fromkeys(debian_package(s) for s in missing)))
        return 0
    reason = platform_to_check(os.environ, sys.platform)
    plugin = xcb_plugin() if not reason else None
    if reason or plugin is None:
        return 0  # nothing to check; a missing PySide6 shows up when the app starts
    finding = find_missing(plugin)
    if finding.skipped:
        print(f"DigitLab: not checking Qt's system libraries: {finding.skipped}.", file=sys.stderr)
        return 0
    if finding.unreadable and not finding.missing:
        # Not blocking: ldd's view and the loader's can differ; Qt's own message follows if so.
        print(f"DigitLab: Qt's X11 plugin may not load: {finding.unreadable}", file=sys.stderr)
    if not finding.missing:
        return 0
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    print(advice(finding.missing, read_os_release(), as_root), file=sys.stderr)
    if os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"):
        return 0  # a Wayland session may not need the X11 plugin: warn, do not block
    return 1


if __name__ == "__main__":
    sys.exit(main())
