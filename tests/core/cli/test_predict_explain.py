"""`digitlab-cli predict --explain / --explain-png` (issue 25.4): the occlusion map from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from tests.core.cli.test_cli import cli


def _seven(path: Path) -> Path:
    """A thick 7, black on white, as someone would draw it."""
    canvas = np.full((200, 200), 255, np.uint8)
    canvas[40:58, 40:160] = 0  # the bar
    for y in range(58, 170):  # the stem, leaning left
        x = 150 - (y - 58) * 60 // 112
        canvas[y, x - 9:x + 9] = 0
    Image.fromarray(canvas).save(path)
    return path


def test_explain_prints_a_map_and_writes_the_png_asked_for(tmp_path: Path) -> None:
    image = _seven(tmp_path / "seven.png")
    out = cli("predict", str(image), "--explain", "--explain-png", str(tmp_path / "m.png")).stdout
    head, _, rest = out.partition("by occluding ")
    assert "Which ink favours" in head
    grid = rest.split("\n")[1:29]
    assert len(grid) == 28 and any(set(line) & set("@#+") for line in grid)
    assert all(len(line) <= 28 for line in grid)
    with Image.open(tmp_path / "m.png") as png:
        assert png.size == (280, 280)
    data = json.loads(cli("predict", str(image), "--json", "--explain").stdout)
    support = np.array(data[0]["explain"]["support"])
    assert support.shape == (28, 28) and support.max() > 0
    assert data[0]["explain"]["runner_up"] != data[0]["digit"]


def test_one_png_for_one_image_only(tmp_path: Path) -> None:
    image = _seven(tmp_path / "seven.png")
    proc = cli("predict", str(image), str(image), "--explain-png", str(tmp_path / "m.png"),
               check=False)
    assert proc.returncode == 2 and "one image" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "m.png").exists()
