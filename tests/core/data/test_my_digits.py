"""core.data.my_digits without Qt: the personal test set on disk, and scoring models on it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from core.data.canvas import canvas_to_mnist
from core.data.my_digits import CANVAS_SUFFIX, MyDigits, score_predictions
from core.errors import ConfigError, ImageError
from core.onnx_io.classifier import DigitClassifier
from core.workflows.my_digits import score_run


def bar_canvas(kind: str = "vertical", size: int = 280) -> np.ndarray:
    """(size, size) uint8 black-on-white canvas with a thick stroke: a digit-like drawing."""
    canvas = np.full((size, size), 255, np.uint8)
    if kind == "vertical":
        canvas[50:230, 130:150] = 0
    elif kind == "horizontal":
        canvas[130:150, 50:230] = 0
    else:  # a ring
        yy, xx = np.mgrid[:size, :size]
        r = np.hypot(yy - size / 2, xx - size / 2)
        canvas[(r > 70) & (r < 90)] = 0
    return canvas


def gemm_onnx(path: Path, seed: int = 0) -> Path:
    """A Flatten + Gemm digit model with deterministic weights (input (N, 1, 28, 28))."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.05, (784, 10)).astype(np.float32)
    b = rng.normal(0, 0.1, 10).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["flat"], axis=1),
         helper.make_node("Gemm", ["flat", "W", "b"], ["y"])],
        "digits",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path


@pytest.fixture
def store(tmp_path: Path) -> MyDigits:
    return MyDigits(tmp_path / "my_digits")


def test_default_root_is_the_user_data_folder(digitlab_home: Path) -> None:
    assert MyDigits().root == digitlab_home / "my_digits"


def test_add_canvas_round_trips_the_preprocessed_image(store: MyDigits) -> None:
    canvas = bar_canvas()
    entry = store.add(canvas, 1)
    assert entry.label == 1 and entry.path.parent == store.root / "1"
    assert entry.path.is_file() and entry.canvas_path.is_file()
    images, labels = store.images_labels()
    assert images.shape == (1, 28, 28) and images.dtype == np.float32
    assert labels.tolist() == [1] and labels.dtype == np.int64
    # Stored as 8-bit PNG, as MNIST itself is: equal to the preprocessing within half a level.
    np.testing.assert_allclose(images[0], canvas_to_mnist(canvas), atol=0.5 / 255 + 1e-6)
    # The canvas is kept as a white-on-black ink map at canvas resolution.
    kept = np.asarray(Image.open(entry.canvas_path))
    assert kept.shape == canvas.shape and kept[140, 140] == 255 and kept[0, 0] == 0


def test_add_ready_28x28_images_as_they_are(store: MyDigits) -> None:
    image = np.zeros((28, 28), np.float32)
    image[4:24, 12:16] = 1.0
    store.add(image, 1)
    store.add((image * 255).astype(np.uint8), 7)
    images, labels = store.images_labels()
    assert labels.tolist() == [1, 7]
    np.testing.assert_allclose(images[0], image)
    np.testing.assert_allclose(images[1], image)
    assert not any(store.root.rglob(f"*{CANVAS_SUFFIX}"))  # no canvas to keep


def test_counts_order_and_fingerprint(store: MyDigits) -> None:
    assert store.count() == 0 and store.counts_per_label() == dict.fromkeys(range(10), 0)
    empty_print = store.fingerprint()
    for label, kind in ((3, "ring"), (1, "vertical"), (3, "horizontal")):
        store.add(bar_canvas(kind), label)
    assert store.count() == 3
    assert store.counts_per_label() == {**dict.fromkeys(range(10), 0), 3: 2, 1: 1}
    assert [e.label for e in store.entries()] == [3, 1, 3]  # save order, across labels
    assert store.images_labels()[1].tolist() == [3, 1, 3]
    assert store.fingerprint() != empty_print
    assert MyDigits(store.root).fingerprint() == store.fingerprint()  # instances agree


def test_remove_and_clear(store: MyDigits) -> None:
    for label, kind in ((0, "ring"), (1, "vertical"), (4, "horizontal")):
        store.add(bar_canvas(kind), label)
    removed = store.remove(1)
    assert removed.label == 1 and not removed.path.exists() and not removed.canvas_path.exists()
    assert [e.label for e in store.entries()] == [0, 4]
    assert store.remove(-1).label == 4
    with pytest.raises(ConfigError, match="no saved digit number 5"):
        store.remove(5)
    store.clear()
    assert store.count() == 0
    assert store.images_labels()[0].shape == (0, 28, 28)


def test_rejects_empty_canvases_and_bad_labels(store: MyDigits) -> None:
    with pytest.raises(ImageError, match="no digit"):
        store.add(np.full((280, 280), 255, np.uint8), 3)
    with pytest.raises(ImageError, match="cannot be saved"):
        store.add(np.zeros((5, 5, 7), np.uint8), 3)
    for label in (-1, 10, 3.0, True, "3"):
        with pytest.raises(ConfigError, match="not a digit"):
            store.add(bar_canvas(), label)  # type: ignore[arg-type]
    assert store.count() == 0


def test_foreign_files_are_skipped_not_fatal(store: MyDigits) -> None:
    store.add(bar_canvas(), 1)
    (store.root / "2").mkdir()
    (store.root / "2" / "broken.png").write_bytes(b"not a png at all")
    Image.new("L", (30, 30)).save(store.root / "2" / "wrong_size.png")
    (store.root / "notes").mkdir()
    (store.root / "notes" / "x.png").write_bytes(b"")
    assert store.count() == 3  # listed ...
    images, labels = store.images_labels()  # ... but only the readable 28×28 one loads
    assert labels.tolist() == [1] and images.shape == (1, 28, 28)


def test_score_predictions() -> None:
    score = score_predictions(np.array([1, 2, 3, 3]), np.array([1, 2, 3, 4]))
    assert (score.n, score.correct, score.accuracy) == (4, 3, 75.0)
    assert score.per_class == {1: (1, 1), 2: (1, 1), 3: (1, 1), 4: (0, 1)}
    assert score.class_accuracy(4) == 0.0 and math.isnan(score.class_accuracy(7))
    record = score.to_record()
    assert record["accuracy"] == 75.0 and record["n"] == 4 and record["per_class"]["4"] == 0.0
    json.dumps(record)  # goes into run.json
    empty = score_predictions(np.zeros(0), np.zeros(0))
    assert empty.n == 0 and math.isnan(empty.accuracy) and empty.to_record()["accuracy"] is None


def test_score_classifier_with_a_real_onnx_session(store: MyDigits, tmp_path: Path) -> None:
    clf = DigitClassifier(gemm_onnx(tmp_path / "gemm.onnx"))
    assert math.isnan(store.score_classifier(clf).accuracy)  # nothing saved yet
    canvases = [bar_canvas(k) for k in ("vertical", "horizontal", "ring")]
    predicted = [clf.classify(canvas_to_mnist(c)).digit for c in canvases]
    for canvas, digit in zip(canvases, predicted, strict=True):
        store.add(canvas, digit)  # labelled with the model's own answers: all right ...
    assert store.score_classifier(clf).accuracy == 100.0
    store.add(canvases[0], (predicted[0] + 1) % 10)  # ... and one wrong
    score = store.score_classifier(clf)
    assert (score.n, score.correct) == (4, 3) and score.accuracy == 75.0
    assert sorted(score.predictions.tolist()) == sorted([*predicted, predicted[0]])


def checkpoint_of(model, config: dict) -> dict:
    """A complete checkpoint of `model` as the trainer saves one (what load_checkpoint wants)."""
    import torch

    from core.training.checkpoints import capture_state
    from core.training.config import TrainConfig

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return capture_state(model, optimizer, schedule, None, TrainConfig.from_dict(config), 0, [])


def test_score_run_records_the_result(store: MyDigits, tmp_path: Path) -> None:
    """score_run against answers it cannot have made itself: a net whose head always says 7
    scores exactly the share of 7s, and a real net agrees digit for digit with its own ONNX
    export run by onnxruntime (normalisation inside the graph, not score_run's code)."""
    torch = pytest.importorskip("torch")
    from core.data.mnist import MNIST_MEAN, MNIST_STD
    from core.data.pen_proxy import pen_digit_set
    from core.models import build_model
    from core.runs.store import RunStore
    from core.training.checkpoints import save_checkpoint
    from core.training.config import TrainConfig
    from core.workflows.export import export_run

    torch.manual_seed(0)
    config = TrainConfig(model="dl-tiny-1k").to_dict()
    model = build_model("dl-tiny-1k").eval()
    always_seven = build_model("dl-tiny-1k").eval()
    with torch.no_grad():
        always_seven.classifier.weight.zero_()
        always_seven.classifier.bias.copy_(torch.eye(10)[7] * 5)
    run = RunStore().create(config)
    best = run.checkpoint_path("best")
    save_checkpoint(best, checkpoint_of(always_seven, config))

    assert math.isnan(score_run(run, store, "best").accuracy)  # empty set: nothing recorded
    assert "my_digits" not in run.record.scores
    for label, kind in ((1, "vertical"), (0, "ring"), (7, "horizontal"), (7, "vertical")):
        store.add(bar_canvas(kind), label)
    score = score_run(run, store, "best")
    assert score.predictions.tolist() == [7, 7, 7, 7]
    assert (score.n, score.correct, score.accuracy) == (4, 2, 50.0)
    assert score.per_class == {0: (0, 1), 1: (0, 1), 7: (2, 2)}
    saved = RunStore().get(run.id).record.scores["my_digits"]  # on disk, not just in memory
    assert saved["n"] == 4 and saved["accuracy"] == 50.0 and saved["per_class"]["7"] == 100.0
    assert saved["checkpoint"] == "best" and saved["fingerprint"] == store.fingerprint()
    assert saved["when"].endswith("+00:00")

    # A real net, fitted a little to 20 varied pen digits so that it reads its input.
    digits = pen_digit_set(n_writers=2, per_digit=1, paths=("strokes",))
    x = (torch.from_numpy(digits.images["strokes"])[:, None] - MNIST_MEAN) / MNIST_STD
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    model.train()
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(model(x), torch.from_numpy(digits.labels))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    save_checkpoint(best, checkpoint_of(model.eval(), config))
    for image, label in zip(digits.images["strokes"], digits.labels, strict=True):
        store.add(image, int(label))
    clf = DigitClassifier(export_run(run, tmp_path / "real.onnx", "best").path)
    images, labels = store.images_labels()
    expected = clf.predict_proba(images).argmax(axis=1)
    score = score_run(run, store, "best", record=False)
    assert score.predictions.tolist() == expected.tolist()
    assert score.correct == int((expected == labels).sum())
    assert len(set(expected.tolist())) > 1  # a net that reads the pixels, not a constant
