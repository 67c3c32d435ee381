"""`digitlab`: start the desktop app (or its self-test).

Native libraries are prepared before Qt loads (see below); the window lives in `app.window`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from importlib.util import find_spec
from pathlib import Path

T0 = time.perf_counter()


def _prepare_native_libraries() -> None:
    """On Windows, torch or onnxruntime loaded after Qt can fail to find their DLLs.

    onnxruntime is cheap: import it before Qt. torch is not: only make its DLL folder known
    (found without importing torch), so a later lazy `import torch` resolves the same DLLs.
    """
    import onnxruntime  # noqa: F401  (loaded for its DLLs; used by the Draw tab)

    if sys.platform == "win32":
        spec = find_spec("torch")
        if spec and spec.origin:
            lib = Path(spec.origin).parent / "lib"
            if lib.is_dir():
                os.add_dll_directory(str(lib))


_prepare_native_libraries()

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.shared.style import configure_plots  # noqa: E402
from core import __version__  # noqa: E402


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="digitlab", description="DigitLab desktop app")
    parser.add_argument("--version", action="version", version=f"DigitLab {__version__}")
    parser.add_argument("--self-test", action="store_true",
                        help="run the built-in checks offscreen and exit 0 only if all pass")
    parser.add_argument("--startup-time", action="store_true",
                        help="print the seconds until the window is usable, then quit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.self_test:
        from app.selftest import run_self_test

        return run_self_test()
    QApplication.setApplicationName("DigitLab")
    QApplication.setOrganizationName("DigitLab")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setAttribute(Qt.ApplicationAttribute.AA_DontShowIconsInMenus, False)
    configure_plots()
    from app.window import MainWindow

    window = MainWindow()
    window.show()
    if args.startup_time:
        from PySide6.QtCore import QTimer

        def report() -> None:
            print(f"window usable after {time.perf_counter() - T0:.2f} s "
                  f"(torch imported: {'torch' in sys.modules})", flush=True)
            window.close()

        QTimer.singleShot(0, report)  # runs once the event loop has painted the window
    return app.exec()
