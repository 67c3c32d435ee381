"""One onnxruntime session for a digit model and running 28×28 images through it.

numpy + onnxruntime only, no `onnx`: the child process that tries an untrusted model
(core/onnx_io/probe.py) runs exactly this code and starts in a fraction of the time `onnx`'s
import takes. Every run stops after a time limit and on Ctrl+C (`run_with_limits`).
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from core.data.mnist import normalize
from core.errors import ModelFileError

NUM_CLASSES = 10
NEEDED_INPUT = (
    "one float image input shaped (N, 1, 28, 28), (N, 28, 28) or (N, 784), N dynamic or 1"
)
NEEDED_OUTPUT = "one float output with 10 class scores per image, e.g. (N, 10)"
RUN_SECONDS = 10.0  # one run of the model on a batch of images; far beyond any digit model


def run_seconds() -> float:
    """RUN_SECONDS, or $DIGITLAB_MODEL_RUN_SECONDS when set."""
    try:
        value = float(os.environ.get("DIGITLAB_MODEL_RUN_SECONDS") or RUN_SECONDS)
    except ValueError:
        return RUN_SECONDS
    return value if 0 < value < 3600 else RUN_SECONDS


@dataclass
class Feed:
    """How images go into a model, as its graph declares them (checked by the classifier)."""

    label: str  # "'file.onnx'", for messages
    input_name: str
    input_shape: str  # as declared, for messages: "(N, 1, 28, 28)"
    dtype: str  # numpy name of the input's float type
    layout: str  # NCHW | NHW | NF
    batch_fixed: bool  # the graph takes exactly one image per run
    normalization: str  # none | mnist: what to do to [0, 1] pixels before feeding them
    output_name: str


def make_session(path: Path, label: str) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    # One 28×28 image is microseconds of work: thread hand-offs would cost more than they save.
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 4  # fatal only: errors come back to us as exceptions anyway
    try:
        # From the path, not bytes, so external-data files beside it are found.
        return ort.InferenceSession(str(path), sess_options=opts,
                                    providers=["CPUExecutionProvider"])
    except Exception as e:
        raise ModelFileError(
            f"onnxruntime cannot load {label}: {first_line(e)}. The file may be damaged "
            "or use operators or versions this onnxruntime lacks; export it again or choose "
            "another file."
        ) from e


def run_images(session: ort.InferenceSession, feed: Feed, x: np.ndarray,
               seconds: float = RUN_SECONDS) -> np.ndarray:
    """(N, 28, 28) float32 in [0, 1] → (N, 10) float64 raw model outputs."""
    n = x.shape[0]
    if n == 0:
        return np.zeros((0, NUM_CLASSES))
    if feed.normalization == "mnist":
        x = normalize(x)  # float32 in, float32 out
    batch = {"NCHW": x[:, None], "NHW": x, "NF": x.reshape(n, 784)}[feed.layout]
    batch = np.ascontiguousarray(batch, dtype=np.dtype(feed.dtype))

    def run(images: np.ndarray) -> np.ndarray:
        return np.asarray(run_with_limits(session, {feed.input_name: images}, seconds,
                                          feed.label)[0])

    if feed.batch_fixed:
        out = np.concatenate([run(batch[i : i + 1]).reshape(1, -1) for i in range(n)])
    else:
        out = run(batch).reshape(n, -1)
    return out.astype(np.float64)


def smoke_test(session: ort.InferenceSession, feed: Feed,
               seconds: float = RUN_SECONDS) -> np.ndarray:
    """Run the two probe images, then the shipped drawn digits 0-9 → (2 + 10, 10); falls back
    to one image per run if batches fail (setting `feed.batch_fixed`). ModelFileError when the
    model cannot classify them, or gives NaN or infinity on any: a model can be finite on a
    blank image and a ramp and still break on every real digit."""
    probes = np.concatenate([probe_images(), digit_samples()])
    try:
        raw = run_images(session, feed, probes, seconds)
    except Exception as first:
        if feed.batch_fixed or _was_stopped(first):
            raise _failed_run(feed, first) from first
        feed.batch_fixed = True  # a dynamic batch dim that only really works with N = 1
        try:
            raw = run_images(session, feed, probes, seconds)
        except Exception as e:
            raise _failed_run(feed, e) from e
    if raw.shape[1] != NUM_CLASSES:
        raise ModelFileError(
            f"output '{feed.output_name}' gives {raw.shape[1]} values per image when run; "
            f"a digit model needs {NEEDED_OUTPUT}."
        )
    broken = np.flatnonzero(~np.all(np.isfinite(raw), axis=1))
    if broken.size:
        first = int(broken[0])
        which = ("a test image" if first < 2 else
                 f"a drawn {first - 2} (one of DigitLab's sample digits)")
        raise ModelFileError(
            f"{feed.label} outputs NaN or infinity on {which}; its weights are broken. "
            "Export it again or choose another file."
        )
    return raw


def _was_stopped(e: BaseException) -> bool:
    return isinstance(e, ModelFileError) and "was stopped" in str(e)


def _failed_run(feed: Feed, e: Exception) -> ModelFileError:
    if isinstance(e, ModelFileError):
        return e
    return ModelFileError(
        f"{feed.label} fails on a 28×28 test image with input '{feed.input_name}' "
        f"{feed.input_shape}: {first_line(e)}. A digit model needs {NEEDED_INPUT}."
    )


def probe_images() -> np.ndarray:
    """(2, 28, 28) float32: a blank image and a diagonal ramp, deterministic and different."""
    ramp = np.add.outer(np.arange(28), np.arange(28)).astype(np.float32) / 54.0
    return np.stack([np.zeros((28, 28), np.float32), ramp])


_digit_samples: np.ndarray | None = None


def digit_samples() -> np.ndarray:
    """(10, 28, 28) float32: DigitLab's shipped drawn digits 0-9 (core/resources/samples, white
    on black 280×280 canvases) in MNIST format, as the Draw tab would feed them. Made once."""
    global _digit_samples
    if _digit_samples is None:
        from PIL import Image

        from core.data.canvas import canvas_to_mnist
        from core.paths import resources_dir

        images = []
        for digit in range(NUM_CLASSES):
            path = resources_dir() / "samples" / f"drawn_{digit}.png"
            with Image.open(path) as im:
                image = canvas_to_mnist(np.asarray(im.convert("L")))
            if image is not None:
                images.append(image.astype(np.float32))
        _digit_samples = np.stack(images) if images else np.zeros((0, 28, 28), np.float32)
    return _digit_samples


def first_line(e: BaseException) -> str:
    """The useful part of an exception's text, without onnxruntime's C++ source locations."""
    text = str(e).strip() or type(e).__name__
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    text = re.sub(r"Load model from .*? failed:", "", text)
    text = re.sub(r"/onnxruntime_src/\S+:\d+ .*?\) (?=\S)", "", text)  # file:line signature
    lines = text.strip().splitlines()
    return lines[0][:300].rstrip(".") if lines else type(e).__name__


def run_with_limits(session: Any, feed: dict[str, Any], seconds: float, name: str) -> list[Any]:
    """`session.run(None, feed)` that stops after `seconds` and on Ctrl+C.

    onnxruntime keeps the calling thread in C++ for the whole run, where Python cannot deliver
    KeyboardInterrupt; its RunOptions.terminate flag, set from another thread, ends the run
    between two ops (Loop iterations included). On the main thread the run goes to a helper
    thread while this one waits in short, interruptible steps; elsewhere a timer sets the flag.
    """
    options = ort.RunOptions()
    options.log_severity_level = 4  # the error comes back as an exception; no log lines
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        options.terminate = True

    if threading.current_thread() is not threading.main_thread():
        timer = threading.Timer(seconds, stop)
        timer.daemon = True
        timer.start()
        try:
            return session.run(None, feed, options)
        except Exception:
            if timed_out.is_set():
                raise _too_slow(name, seconds) from None
            raise
        finally:
            timer.cancel()
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["out"] = session.run(None, feed, options)
        except BaseException as e:  # handed to the waiting thread
            result["error"] = e

    worker = threading.Thread(target=work, daemon=True)
    deadline = time.monotonic() + seconds
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.02)
            if time.monotonic() > deadline and not timed_out.is_set():
                stop()
    except BaseException:  # KeyboardInterrupt: stop the run before letting it through
        options.terminate = True
        worker.join(5)
        raise
    if "error" in result:
        if timed_out.is_set():
            raise _too_slow(name, seconds) from None
        raise result["error"]
    return result["out"]


def _too_slow(name: str, seconds: float) -> ModelFileError:
    return ModelFileError(f"{name} took more than {seconds:g} s on one image and was stopped; "
                          f"it is too slow (or loops) for DigitLab.")
