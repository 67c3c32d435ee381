"""The model we ship: it loads, is under budget, and does what its README says, also on
digits re-painted the way users draw them (any size, place, stroke weight and polarity)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from core.data.canvas import canvas_to_mnist
from core.onnx_io.classifier import DigitClassifier
from core.paths import bundled_model_path
from tests.support.mnist_helpers import paint_digit

README = bundled_model_path().parent / "README.md"


def stated(label: str) -> float:
    match = re.search(rf"{label}[^:\n]*:[\s|*]*([0-9.]+)%", README.read_text())
    assert match, f"{README} does not state '{label}'"
    return float(match.group(1))


@pytest.fixture(scope="module")
def model() -> DigitClassifier:
    return DigitClassifier(bundled_model_path())


def test_loads_and_is_under_budget(model: DigitClassifier) -> None:
    assert model.is_digitlab_export and model.under_budget
    assert int(model.metadata["digitlab.params"]) < 8000


def test_stated_accuracy_holds(model: DigitClassifier, mnist) -> None:
    images = mnist.test_images.astype(np.float32) / 255
    predictions = model.predict_proba(images).argmax(1)
    full = 100 * float((predictions == mnist.test_labels).mean())
    first500 = 100 * float((predictions[:500] == mnist.test_labels[:500]).mean())
    assert full == pytest.approx(stated("Test accuracy"), abs=0.3)
    assert first500 == pytest.approx(stated("First 500 test digits"), abs=0.3)
    assert full == pytest.approx(float(model.metadata["digitlab.test_accuracy"]), abs=0.3)


def test_repainted_digits_keep_their_accuracy(model: DigitClassifier, mnist) -> None:
    """1,000 test digits painted into a 280×280 canvas at 25-90% of its size, anywhere, with
    thinner or thicker strokes and either polarity, then preprocessed like the Draw tab does."""
    rng = np.random.default_rng(0)
    digits, labels = mnist.test_images[:1000], mnist.test_labels[:1000]
    original = model.predict_proba(digits.astype(np.float32) / 255).argmax(1)
    repainted = []
    for digit in digits:
        fraction = rng.uniform(0.25, 0.9)
        # Stroke change in canvas pixels, proportional to the digit's scale (~0.7 MNIST px max).
        stroke = round(rng.uniform(-0.4, 0.7) * fraction * 280 / 20)
        canvas = paint_digit(digit, 280, fraction=fraction,
                             position=(rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)),
                             stroke_delta=stroke,
                             polarity=str(rng.choice(["white_on_black", "black_on_white"])),
                             fmt=str(rng.choice(["grey", "rgba"])))
        image = canvas_to_mnist(canvas)
        assert image is not None
        repainted.append(image)
    repainted_pred = model.predict_proba(np.stack(repainted)).argmax(1)
    acc_original = 100 * float((original == labels).mean())
    acc_repainted = 100 * float((repainted_pred == labels).mean())
    print(f"original {acc_original:.2f}%  repainted {acc_repainted:.2f}%")
    assert acc_repainted >= acc_original - 0.5, (acc_original, acc_repainted)


def test_stated_real_writer_figures_hold(model: DigitClassifier, pen_digits) -> None:
    """The validation writers through both paths score what the README says (±0.1 point: the
    set is fixed and seeded, so only another machine's float rounding may move a digit)."""
    from core.data.pendigits import VALIDATION_WRITERS, evaluate_writers

    report = evaluate_writers(model.predict_proba, pen_digits.of_writers(VALIDATION_WRITERS))
    assert report.accuracy["strokes"] == pytest.approx(stated("Real pen writers, Draw tab"),
                                                       abs=0.1)
    assert report.accuracy["pixels"] == pytest.approx(stated("Real pen writers, predict"),
                                                      abs=0.1)


def test_the_shipped_checkpoint_is_the_shipped_model(model: DigitClassifier, mnist) -> None:
    """default.pt (what fine-tuning starts from) answers as default.onnx does, loads without
    anything to resume training with, and cannot be resumed from."""
    import torch

    from core.errors import ModelFileError
    from core.models import build_model
    from core.training.checkpoints import load_checkpoint, model_from_state, restore_state
    from core.workflows.finetune import bundled_checkpoint_path

    state = load_checkpoint(bundled_checkpoint_path())
    assert state["config"]["model"] == model.metadata["digitlab.model"]
    assert state.get("optimizer") is None and state["config"]["data_dir"] == ""
    net = model_from_state(state)
    images = mnist.test_images[:500].astype(np.float32) / 255
    from core.data.mnist import normalize

    with torch.inference_mode():
        logits = net(normalize(torch.from_numpy(images).unsqueeze(1))).numpy()
    np.testing.assert_array_equal(logits.argmax(1), model.predict_proba(images).argmax(1))
    fresh = build_model(state["config"]["model"])
    with pytest.raises(ModelFileError, match="cannot be resumed from: its optimizer"):
        restore_state(state, fresh, torch.optim.SGD(fresh.parameters(), lr=0.1), None, None)


def test_a_drawing_reads_the_same_as_strokes_and_as_a_picture(model: DigitClassifier,
                                                              pen_digits) -> None:
    """The Draw tab's strokes and `predict` on a PNG of them agree on the validation writers as
    far as the input allows: a picture loses which ink is one stroke, the pen width and the
    order, so a few near-ties may flip (README: 99.4%); a mismatch of the two preprocessing
    paths (another size, centring or stroke width) would cost far more."""
    from core.data.pendigits import VALIDATION_WRITERS, evaluate_writers

    report = evaluate_writers(model.predict_proba, pen_digits.of_writers(VALIDATION_WRITERS))
    assert report.agreement >= 99.0
