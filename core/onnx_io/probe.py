"""Trying an untrusted ONNX model in a child process with a time and a memory limit.

A model file can hold a Loop that runs for hours or an op that allocates gigabytes; onnxruntime
will do what the file says. Before DigitLab uses a new model in its own process, a child process
loads it and classifies the test images with the same code (core/onnx_io/session.py), under
RLIMIT_AS (Linux: address space beyond what Python and onnxruntime take at start) and a wall-time
limit; it is killed when it overruns. What the child says decides: a model that fails there is
refused here with the same message, without running it here; one that overran is refused
saying which limit. (Windows has no RLIMIT_AS: only the time limit applies there.)

Models that passed are remembered by content hash (in memory and under the user data folder),
so a model reopened at every start is tried once, not at every start.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from core.errors import ModelFileError
from core.onnx_io.session import Feed

CACHE_FILE = "onnx-probed.json"
CACHE_LIMIT = 500  # digests kept
READY = "ready"  # the child's first line: imports done, the model's clock starts
STARTUP_LIMIT_S = 120.0  # for the child to import Python, numpy and onnxruntime
# What the probe runs (session.smoke_test); part of a passed model's digest, so a model that
# passed an older, smaller probe is tried again.
PROBE_IMAGES = "blank, ramp, drawn 0-9"


@dataclass(frozen=True)
class ProbeLimits:
    seconds: float = 20.0  # loading plus the test images, in the child (start-up not counted)
    memory_mb: int = 1024  # address space the model may add to a fresh Python + onnxruntime


DEFAULT_LIMITS = ProbeLimits()


def default_limits() -> ProbeLimits:
    """ProbeLimits, with $DIGITLAB_MODEL_SECONDS and $DIGITLAB_MODEL_MEMORY_MB when set (a slow
    machine may need more time; tests use less)."""
    try:
        seconds = float(os.environ.get("DIGITLAB_MODEL_SECONDS") or DEFAULT_LIMITS.seconds)
        memory = int(os.environ.get("DIGITLAB_MODEL_MEMORY_MB") or DEFAULT_LIMITS.memory_mb)
    except ValueError:
        return DEFAULT_LIMITS
    return ProbeLimits(seconds if 0 < seconds < 3600 else DEFAULT_LIMITS.seconds,
                       memory if 64 <= memory <= 1 << 20 else DEFAULT_LIMITS.memory_mb)
_passed: set[str] = set()
_passed_lock = threading.Lock()


def _digest(path: Path, feed: Feed, limits: ProbeLimits) -> str:
    import onnxruntime as ort

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    h.update(f"|{asdict(feed)}|{limits}|{ort.__version__}|{PROBE_IMAGES}".encode())
    return h.hexdigest()


def _cache_path() -> Path:
    from core.paths import home_dir

    return home_dir() / "cache" / CACHE_FILE


def _known_good(digest: str) -> bool:
    with _passed_lock:
        if digest in _passed:
            return True
    try:
        from core.fileio import read_untrusted

        known = json.loads(read_untrusted(_cache_path(), 1 << 20))
    except (OSError, ValueError):
        return False
    return isinstance(known, list) and digest in known


def _remember(digest: str) -> None:
    with _passed_lock:
        _passed.add(digest)
    try:
        from core.fileio import read_untrusted, write_json_atomic

        try:
            known = json.loads(read_untrusted(_cache_path(), 1 << 20))
        except (OSError, ValueError):
            known = []
        known = [d for d in known if isinstance(d, str) and d != digest][-CACHE_LIMIT + 1:]
        write_json_atomic(_cache_path(), [*known, digest])
    except Exception:  # a cache that cannot be written only costs a probe next time
        pass


def probe_model(path: Path, feed: Feed, limits: ProbeLimits | None = None,
                should_stop: Callable[[], bool] | None = None, cache: bool = True) -> None:
    """Try `path` as a digit model fed as `feed` says, in a child process under `limits`.

    Returns when the model loaded and classified the test images in time and memory; raises
    ModelFileError saying why not. Ctrl+C (KeyboardInterrupt) or `should_stop()` kill the child.
    Models without external data that passed are remembered by content (not re-tried).
    """
    path = Path(path)
    limits = limits or default_limits()
    digest = _digest(path, feed, limits) if cache else ""
    if cache and _known_good(digest):
        return
    request = json.dumps({"path": str(path), "feed": asdict(feed), "seconds": limits.seconds,
                          "memory_mb": limits.memory_mb})
    root = str(Path(__file__).resolve().parents[2])  # the folder holding the core package
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [root, *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from core.onnx_io.probe import child_main; child_main()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        text=True)
    answer = _wait(proc, request, limits, should_stop, path)
    if answer.get("ok"):
        if cache:
            _remember(digest)
        return
    name = f"'{path.name}'"
    if answer.get("kind") == "memory":
        raise ModelFileError(f"{name} needs more than {limits.memory_mb:,} MB of memory to "
                             f"classify one test image (the limit for a model DigitLab opens); "
                             f"refused.")
    raise ModelFileError(str(answer.get("error") or f"{name} cannot be used."))


def _wait(proc: subprocess.Popen[str], request: str, limits: ProbeLimits,
          should_stop: Callable[[], bool] | None, path: Path) -> dict:
    """Feed the request, wait for the answer within the time limit; kill the child otherwise.

    The clock starts when the child says it is ready (Python, numpy and onnxruntime imported:
    about a second, more on a busy machine), so start-up never counts against the model.
    """
    name = f"'{path.name}'"
    ready = threading.Event()
    lines: list[str] = []

    def talk() -> None:
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(request)
            proc.stdin.close()
            for line in proc.stdout:
                if line.strip() == READY:
                    ready.set()
                else:
                    lines.append(line)
        except (OSError, ValueError):
            pass

    talker = threading.Thread(target=talk, daemon=True)
    talker.start()
    started, deadline = time.monotonic(), None
    try:
        while talker.is_alive():
            talker.join(0.05)  # short waits: Ctrl+C arrives between them
            if should_stop is not None and should_stop():
                raise ModelFileError(f"Opening {name} was cancelled.")
            if deadline is None and ready.is_set():
                deadline = time.monotonic() + limits.seconds
            if deadline is not None and time.monotonic() > deadline:
                raise ModelFileError(f"{name} took more than {limits.seconds:g} s to load and "
                                     f"classify one test image (the limit for a model DigitLab "
                                     f"opens; it may loop for ever); refused.")
            if deadline is None and time.monotonic() - started > STARTUP_LIMIT_S:
                raise ModelFileError(f"Could not start the process that tries {name} within "
                                     f"{STARTUP_LIMIT_S:g} s; try again when the machine is "
                                     f"less busy.")
    finally:
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        talker.join(1)
    try:
        return json.loads(lines[-1]) if lines else _crashed(proc, name, limits)
    except ValueError:
        return _crashed(proc, name, limits)


def _crashed(proc: subprocess.Popen[str], name: str, limits: ProbeLimits) -> dict:
    # No answer: the child died (onnxruntime aborts on some allocation failures).
    return {"ok": False, "kind": "memory",
            "error": f"{name} crashed the process that tried it (exit {proc.returncode}); it may "
                     f"need more than {limits.memory_mb:,} MB. Refused."}


def _limit_memory(extra_mb: int) -> None:
    """Cap this process's address space at what it uses now plus `extra_mb` (Linux)."""
    try:
        import resource
    except ImportError:  # Windows: the time limit still applies
        return
    try:
        with open("/proc/self/status") as f:
            vm_kb = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError):
        return  # not Linux: RLIMIT_AS is not enforced there anyway
    limit = vm_kb * 1024 + extra_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def child_main() -> None:
    """In the child: load and test the model as DigitClassifier does; one JSON line out."""
    # Imported before the cap: their own reservations are not the model's.
    from core.onnx_io.session import Feed, make_session, smoke_test

    request = json.loads(sys.stdin.read())
    _limit_memory(int(request["memory_mb"]))
    sys.stdout.write(READY + "\n")
    sys.stdout.flush()
    try:
        feed = Feed(**request["feed"])
        smoke_test(make_session(Path(request["path"]), feed.label), feed, request["seconds"])
        answer = {"ok": True}
    except MemoryError:
        answer = {"ok": False, "kind": "memory"}
    except ModelFileError as e:
        text = str(e)
        memory = any(w in text.lower() for w in ("alloc", "memory", "bad_alloc"))
        answer = {"ok": False, "kind": "memory" if memory else "error", "error": text}
    except Exception as e:  # anything else is the model's fault too
        answer = {"ok": False, "kind": "error", "error": f"{type(e).__name__}: {e}"[:500]}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
