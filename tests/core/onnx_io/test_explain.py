"""The occlusion map (core/onnx_io/explain.py) on a linear model whose answer we know: ink on
the left votes for 3, ink on the right for 5."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import helper, numpy_helper

from core.onnx_io.classifier import DigitClassifier
from core.onnx_io.explain import as_text, occlusion, save_png
from tests.support.hostile_onnx import io, save


def _left_right_model(path: Path) -> DigitClassifier:
    w = np.zeros((28, 28, 10), np.float32)
    w[:, :14, 3] = 0.05  # logit 3: ink in the left half
    w[:, 14:, 5] = 0.04  # logit 5: ink in the right half, a little less (nothing saturates)
    nodes = [helper.make_node("Flatten", ["x"], ["f"]),
             helper.make_node("Gemm", ["f", "W", "b"], ["y"])]
    inits = [numpy_helper.from_array(w.reshape(784, 10), "W"),
             numpy_helper.from_array(np.zeros(10, np.float32), "b")]
    inputs, outputs = io()
    return DigitClassifier(save(helper.make_graph(nodes, "lr", inputs, outputs, inits), path))


def _drawing() -> np.ndarray:
    image = np.zeros((28, 28), np.float32)
    image[8:20, 6:9] = 1.0  # a bar on the left
    image[8:20, 19:22] = 1.0  # and one on the right
    return image


def test_ink_for_the_answer_is_positive_ink_for_the_runner_up_negative(tmp_path: Path) -> None:
    clf = _left_right_model(tmp_path / "lr.onnx")
    image = _drawing()
    found = occlusion(clf, image)
    assert (found.digit, found.runner_up) == (3, 5)
    assert np.allclose(found.probabilities, clf.predict_proba(image)[0])
    support = found.support
    assert support[8:20, 6:9].min() > 0  # the left bar pushes towards 3
    assert support[8:20, 19:22].max() < 0  # the right bar towards 5
    assert found.drop[8:20, 6:9].min() > 0 and found.rise[8:20, 6:9].min() > 0
    assert np.all(support[:, 12:16] == 0) and np.all(support[:5] == 0)  # no ink near: 0
    # Only squares touching ink ran: 4×4 squares overlapping a 12×3 bar are 15×6, two bars.
    assert found.patches == 2 * 15 * 6


def test_a_one_pixel_patch_is_exactly_the_change_when_that_pixel_goes(tmp_path: Path) -> None:
    clf = _left_right_model(tmp_path / "lr.onnx")
    image = _drawing()
    found = occlusion(clf, image, patch=1)
    blanked = image.copy()
    blanked[10, 7] = 0.0
    base, after = clf.predict_proba(image)[0], clf.predict_proba(blanked)[0]
    assert found.drop[10, 7] == pytest.approx(base[3] - after[3], abs=1e-6)
    assert found.rise[10, 7] == pytest.approx(after[5] - base[5], abs=1e-6)
    with pytest.raises(ValueError, match="28, 28"):
        occlusion(clf, np.zeros((27, 28), np.float32))


def test_text_and_png_show_the_two_sides(tmp_path: Path) -> None:
    clf = _left_right_model(tmp_path / "lr.onnx")
    image = _drawing()
    found = occlusion(clf, image)
    lines = as_text(found, image).split("\n")
    assert len(lines) == 28 and lines[0] == ""
    row = lines[14]
    assert set(row[6:9]) <= set("@#+") and set(row[19:22]) <= set("~-=")
    assert row[10:18].strip() == ""
    out = save_png(found, image, tmp_path / "map.png")
    from PIL import Image

    with Image.open(out) as png:
        rgb = np.asarray(png.convert("RGB")).astype(int)
    assert png.size == (280, 280)
    left, right = rgb[140, 75], rgb[140, 205]  # inside each bar
    assert left[0] > left[2] + 60 and right[2] > right[0] + 60  # red for 3, blue for 5
