"""The wheel ships what the app needs, and nothing of the tests: it is built from the working
tree (what a commit of it would hold), its file list is checked, and `digitlab --self-test` and
`digitlab-cli predict` pass from a fresh venv with the wheel installed.

The fresh venv gets the heavy third-party packages (torch, Qt, onnxruntime) from this venv through
a .pth line rather than a download; DigitLab itself comes only from the wheel, which the test
checks by where `core` is imported from.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

SHIPPED = ["core/resources/models/default.onnx", "core/resources/samples/strokes.json",
           *(f"core/resources/samples/drawn_{d}.png" for d in range(10)),
           "core/resources/icons/digitlab.png", "core/resources/icons/digitlab.ico",
           "core/paths.py", "core/cli/main.py", "app/main.py", "app/window.py",
           "app/shared/qt_libs.py"]


def _source_copy(dest: Path) -> Path:
    """The files git would commit now (tracked or new, not ignored): no build/ leftovers."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the working tree is skipped
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    source = _source_copy(root / "src")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps",
                    "--no-build-isolation", "--quiet", "-w", str(root / "dist")],
                   check=True, capture_output=True, timeout=300)
    (built,) = (root / "dist").glob("digitlab-*.whl")
    return built


def test_the_wheel_holds_the_resources_and_no_test_code(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    missing = [name for name in SHIPPED if name not in names]
    assert not missing, f"not in {wheel.name}: {missing}"
    top = {name.split("/")[0] for name in names}
    assert top == {"core", "app", f"{wheel.name.split('-py3')[0]}.dist-info"}, top
    assert not [n for n in names if "stall_meter" in n or "/tests/" in n or "conftest" in n]
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "digitlab = app.main:main" in entry_points
    assert "digitlab-cli = core.cli:main" in entry_points


def test_self_test_and_cli_pass_from_a_wheel_install(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path("
                              "'purelib'))"], capture_output=True, text=True, check=True)
    # Third-party packages from this venv, after the fresh venv's own (which hold DigitLab).
    Path(purelib.stdout.strip(), "third_party.pth").write_text(
        "\n".join(site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    "--quiet", str(wheel)], check=True, capture_output=True, timeout=300)

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DIGITLAB_HOME")}
    env |= {"QT_QPA_PLATFORM": "offscreen", "DIGITLAB_HOME": str(tmp_path / "home")}
    where = subprocess.run([str(python), "-c", "import core, app; print(core.__file__); "
                            "print(app.__file__)"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, check=True).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where  # not the checkout's

    proc = subprocess.run([str(venv / "bin" / "digitlab"), "--self-test"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[FAIL]" not in proc.stdout and "bundled model" in proc.stdout

    image = tmp_path / "my7.png"
    shutil.copy(REPO / "resources" / "samples" / "drawn_7.png", image)
    out = subprocess.run([str(venv / "bin" / "digitlab-cli"), "predict", str(image)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.startswith(f"{image}: 7"), out.stdout + out.stderr
