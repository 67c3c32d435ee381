"""The pen-style check: real MNIST digits thinned, redrawn with a round pen in each style, replayed
through the canvas preprocessing and scored by the bundled ONNX model (no mocks)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from core.data.pen_styles import (
    STYLES,
    UPSAMPLE,
    PenStyle,
    digit_skeletons,
    draw_style,
    evaluate_pen_styles,
    pen_style_images,
    skeletonize,
    torch_predictor,
)
from core.onnx_io.classifier import DigitClassifier
from core.paths import bundled_model_path
from tests.conftest import REPO

BY_NAME = {s.name: s for s in STYLES}


@pytest.fixture(scope="module")
def model() -> DigitClassifier:
    return DigitClassifier(bundled_model_path())


@pytest.fixture(scope="module")
def skeletons(mnist) -> np.ndarray:
    return digit_skeletons(mnist.test_images[:300])


def components(masks: np.ndarray, connectivity: int = 8) -> np.ndarray:
    """Connected components per (H, W) bool mask: each pixel takes the largest label among its
    neighbours, then the label of the pixel its label names (a jump along the component)."""
    n, h, w = masks.shape
    steps = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
             if connectivity == 8 or abs(dy) + abs(dx) < 2]
    labels = np.where(masks, np.arange(1, h * w + 1).reshape(h, w), 0).reshape(n, h, w)
    while True:
        p = np.pad(labels, ((0, 0), (1, 1), (1, 1)))
        spread = np.max([p[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, dx in steps],
                        axis=0)
        flat = spread.reshape(n, -1)
        spread = np.where(masks, np.take_along_axis(flat, np.maximum(flat - 1, 0), axis=1)
                          .reshape(n, h, w), 0)
        if np.array_equal(spread, labels):
            return np.array([len(np.unique(x[x > 0])) for x in labels])
        labels = spread


def ink_box(canvas: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(canvas.max(axis=1) > 50), np.flatnonzero(canvas.max(axis=0) > 50)
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def test_skeleton_is_one_pixel_wide_and_keeps_the_digits_shape(mnist) -> None:
    digits = mnist.test_images[:40] > 127
    masks = np.kron(digits, np.ones((UPSAMPLE, UPSAMPLE), dtype=bool))
    skel = skeletonize(masks)
    assert not (skel & ~masks).any()  # inside the digit
    blocks = skel[:, :-1, :-1] & skel[:, 1:, :-1] & skel[:, :-1, 1:] & skel[:, 1:, 1:]
    # Zhang–Suen keeps a 2×2 block only where strokes cross (deleting it would cut them).
    assert blocks.sum() <= 0.002 * skel.sum()
    assert skel.sum() < 0.3 * masks.sum()  # strokes were 5-15 px wide; now a line
    np.testing.assert_array_equal(components(skel), components(masks))
    # A ring thins to a closed loop: one piece that still encloses the hole.
    yy, xx = np.mgrid[:60, :60]
    ring = ((yy - 30) ** 2 + (xx - 30) ** 2 <= 22**2) & ((yy - 30) ** 2 + (xx - 30) ** 2 >= 12**2)
    loop = skeletonize(ring[None])
    assert components(loop)[0] == 1 and components(~loop, connectivity=4)[0] == 2
    assert 2 * np.pi * 14 < loop.sum() < 2 * np.pi * 20


def test_every_digit_gets_a_skeleton(skeletons: np.ndarray) -> None:
    assert skeletons.any(axis=(1, 2)).all()


def test_pen_width_changes_ink_area_monotonically(skeletons: np.ndarray) -> None:
    ink = [np.array([c.astype(np.float64).sum() for c in draw_style(skeletons[:60], BY_NAME[s])])
           for s in ("pen-thin", "pen-medium", "pen-thick")]
    assert (ink[0] < ink[1]).all() and (ink[1] < ink[2]).all()
    assert np.median(ink[2] / ink[0]) > 2.5  # 20 % vs 6 % of the height


def test_slants_lean_the_top_of_a_one_sideways(mnist, skeletons: np.ndarray) -> None:
    ones = skeletons[mnist.test_labels[:300] == 1][:20]

    def lean(style: str) -> np.ndarray:  # (x of the top quarter − x of the bottom one) / height
        out = []
        for canvas in draw_style(ones, BY_NAME[style]):
            top, bottom, _, _ = ink_box(canvas)
            quarter = (bottom - top) // 4
            x = np.arange(canvas.shape[1], dtype=np.float64)
            centre = [float(canvas[r].astype(np.float64).sum(axis=0) @ x / canvas[r].sum())
                      for r in (slice(top, top + quarter), slice(bottom - quarter, bottom))]
            out.append((centre[0] - centre[1]) / (bottom - top))
        return np.array(out)

    upright = lean("pen-medium")
    # A shear by θ moves the top quarter's centre 0.75·tan θ of the height against the bottom's.
    assert (lean("slant-right") - upright > 0.75 * np.tan(np.radians(20)) - 0.08).all()
    assert (lean("slant-left") - upright < -0.75 * np.tan(np.radians(15)) + 0.08).all()


def test_narrow_and_wide_change_the_proportions(mnist, skeletons: np.ndarray) -> None:
    wide_digits = skeletons[mnist.test_labels[:300] != 1][:40]

    def ratio(style: str) -> np.ndarray:  # ink box width / height on the canvas
        boxes = [ink_box(c) for c in draw_style(wide_digits, BY_NAME[style])]
        return np.array([(r - le) / (b - t) for t, b, le, r in boxes])

    medium = ratio("pen-medium")
    assert (ratio("narrow") < 0.85 * medium).all() and (ratio("wide") > 1.15 * medium).all()


def test_mixed_varies_size_and_place(skeletons: np.ndarray) -> None:
    boxes = np.array([ink_box(c) for c in draw_style(skeletons[:100], BY_NAME["mixed"])])
    longer = np.maximum(boxes[:, 1] - boxes[:, 0], boxes[:, 3] - boxes[:, 2]) / 280
    assert longer.min() < 0.45 and longer.max() > 0.8 and longer.max() <= 0.91
    centres = (boxes[:, 0] + boxes[:, 1]) / 2
    assert centres.std() > 20  # not all in the middle


def test_same_seed_same_images(mnist) -> None:
    digits = mnist.test_images[:30]
    mixed = (BY_NAME["mixed"],)
    first = pen_style_images(digits, mixed, seed=1)["mixed"]
    np.testing.assert_array_equal(first, pen_style_images(digits, mixed, seed=1)["mixed"])
    assert not np.array_equal(first, pen_style_images(digits, mixed, seed=2)["mixed"])
    assert first.dtype == np.float32 and first.shape == (30, 28, 28)
    assert first.min() >= 0 and np.allclose(first.max(axis=(1, 2)), 1)


def test_no_digit_counts_as_a_miss(model: DigitClassifier, mnist) -> None:
    digits, labels = mnist.test_images[:40].copy(), mnist.test_labels[:40].copy()
    digits[0] = 0  # blank: nothing to draw, so the canvas holds "no digit"
    # Label it with what the model says about an empty image, so only the count can fail it.
    labels[0] = model.predict_proba(np.zeros((1, 28, 28), np.float32)).argmax()
    style = (BY_NAME["pen-medium"],)
    images = pen_style_images(digits, style)["pen-medium"]
    assert not images[0].any() and images[1:].max(axis=(1, 2)).min() == 1
    report = evaluate_pen_styles(model.predict_proba, digits, labels, n=40, styles=style)
    hits = model.predict_proba(images[1:]).argmax(1) == labels[1:]
    assert report.no_digit == {"pen-medium": 1}
    assert report.accuracy["pen-medium"] == pytest.approx(100 * hits.sum() / 40)


def test_bundled_model_reads_every_style(model: DigitClassifier, mnist) -> None:
    report = evaluate_pen_styles(model.predict_proba, mnist.test_images, mnist.test_labels, n=300)
    print(report.table())
    assert report.n == 300 and set(report.accuracy) == set(BY_NAME)
    assert min(report.accuracy.values()) > 85, report.accuracy  # chance is 10 %
    assert report.mean == pytest.approx(np.mean(list(report.accuracy.values())))
    assert report.worst == min(report.accuracy.items(), key=lambda kv: kv[1])
    assert report.mnist_accuracy > 97 and report.seconds > 0
    table = report.table()
    assert all(name in table for name in BY_NAME) and f"{report.mean:.2f}%" in table
    # Class predictions work as well as scores.
    classes = evaluate_pen_styles(lambda x: model.predict_proba(x).argmax(1), mnist.test_images,
                                  mnist.test_labels, n=300, styles=STYLES[:1])
    assert classes.accuracy["pen-thin"] == report.accuracy["pen-thin"]


def test_torch_predictor_normalises_like_the_export() -> None:
    import torch

    from core.models import build_model
    from core.onnx_io.export import WithNormalization

    torch.manual_seed(0)
    net = build_model("dl-flagship-8k").eval()
    x = np.random.default_rng(0).random((300, 28, 28), dtype=np.float32)
    with torch.inference_mode():
        expected = WithNormalization(net)(torch.from_numpy(x).unsqueeze(1)).numpy()
    np.testing.assert_allclose(torch_predictor(net)(x), expected, atol=1e-5)


def test_cli_prints_the_table_and_fails_cleanly(tmp_path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "core.cli", "handwriting", *args], cwd=REPO,
                              text=True, capture_output=True, timeout=120)

    proc = cli(str(bundled_model_path()), "--n", "100", "--seed", "3", "--proxies", "--no-real")
    assert proc.returncode == 0, proc.stderr
    assert "first 100 test digits" in proc.stdout and "mean over styles" in proc.stdout
    assert all(name in proc.stdout for name in BY_NAME)
    for args, needle in [((str(tmp_path / "missing.onnx"),), "missing.onnx"),
                         (("no-such-run",), "No run 'no-such-run'"),
                         ((str(bundled_model_path()), "--split", "val", "--proxies"),
                          "validation split")]:
        proc = cli(*args)
        assert proc.returncode == 2 and needle in proc.stderr, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_styles_are_described() -> None:
    assert len({s.name for s in STYLES}) == len(STYLES) >= 8
    assert all(isinstance(s, PenStyle) and s.description for s in STYLES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        STYLES[0].pen = 0.5  # type: ignore[misc]
