"""Does torch.compile's cache already hold this model? And warming it without waiting for it.

A compile on the 2-core CPU costs ~2.5 s when torch's on-disk caches hold the model's graphs
(warm) and ~28 s when they do not (cold; ~50 s with other jobs running); a time-budget run must
know which before it spends its budget on it (core/training/budget.py decides). torch does not
say whether a compile will hit its cache, so `compile_for_training` leaves a marker beside the
cache after every successful compile, keyed by everything the cached graphs depend on (torch and
Python versions, the model's structure, the input's shape and dtype, device kind, autocast);
the marker lives inside the cache folder, so emptying the cache forgets it too.

`start_warmer` compiles a model in a separate low-priority process (never in a thread of the
training process: the compiler holds the GIL for seconds, and every op of the training loop
waits for it) so that the next run, or this one when it is ready in time, finds the cache warm.
It writes the same marker, and runs at most once at a time per model (a lock file holding its
pid). Torch-free until a model is compiled.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.fileio import read_untrusted

if TYPE_CHECKING:
    import torch

MARKER_FOLDER = "digitlab-warm"  # inside TORCHINDUCTOR_CACHE_DIR
TIMES_FILE = "compile-times.json"  # this machine's last cold and warm compile seconds
LOCK_STALE_S = 20 * 60  # a warmer's lock older than this is from a process that died
# Recorded on the idle 2-core dev-cpu for dl-dilated-8k at batch 128 (issue 22): what a compile
# costs before this machine has measured its own (compile-times.json, updated by every compile).
DEFAULT_COLD_S = 28.0
DEFAULT_WARM_S = 2.5
# Compiled training steps per eager one on the CPU: compiling cut a step by ~23% on the idle
# dev-cpu (benchmarks/RESULTS.md, "Training speed": 1/0.77 = 1.3x; an epoch 11.9 s eager, 9.0 s
# compiled); with other jobs running (load 7) 1.11-1.19x was measured: this is the generous side.
CPU_COMPILE_SPEEDUP = 1.3


def cache_root() -> Path:
    """torch.compile's cache folder for this process (set by speed.use_persistent_compile_cache)."""
    from core.training.speed import use_persistent_compile_cache

    use_persistent_compile_cache()
    return Path(os.environ["TORCHINDUCTOR_CACHE_DIR"])


def cache_key(model: torch.nn.Module, sample: torch.Tensor, use_amp: bool) -> str:
    """What a cached compilation of `model` for `sample`-shaped batches depends on, hashed."""
    import torch

    params = [(tuple(p.shape), str(p.dtype), p.requires_grad) for p in model.parameters()]
    parts = [torch.__version__, platform.python_version(), platform.machine(), repr(model),
             repr(params), repr(tuple(sample.shape)), str(sample.dtype), sample.device.type,
             str(use_amp), "dynamic_threads"]  # the last: how speed.py configures inductor
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def _marker(key: str) -> Path:
    return cache_root() / MARKER_FOLDER / f"{key}.json"


def is_warm(key: str) -> bool:
    """Whether a compile of `key` has succeeded with this cache folder (and it still exists)."""
    return _marker(key).is_file()


def mark_warm(key: str, seconds: float, was_warm: bool) -> None:
    """After a successful compile: remember the key, and this machine's compile time."""
    from core.fileio import write_json_atomic

    folder = cache_root() / MARKER_FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(folder / f"{key}.json", {"seconds": round(seconds, 2),
                                                   "when": time.time()})
        times = compile_times()
        times["warm_s" if was_warm else "cold_s"] = round(seconds, 2)
        write_json_atomic(folder / TIMES_FILE, times)
    except OSError:
        pass  # a cache that cannot be written is only a slower next run


def compile_times() -> dict[str, float]:
    """{"cold_s", "warm_s"}: this machine's last compiles, else the recorded defaults."""
    times = {"cold_s": DEFAULT_COLD_S, "warm_s": DEFAULT_WARM_S}
    try:
        saved = json.loads(read_untrusted(cache_root() / MARKER_FOLDER / TIMES_FILE, 64 * 1024))
        times.update({k: float(saved[k]) for k in times if isinstance(saved.get(k), int | float)
                      and 0 < saved[k] < 3600})
    except (OSError, ValueError, AttributeError):
        pass
    return times


@dataclass
class Warmer:
    """A background compile of one model (see `start_warmer`)."""

    key: str
    process: subprocess.Popen[bytes] | None  # None: another process's warmer was running

    def ready(self) -> bool:
        """The cache holds the model now (the warmer's marker is there)."""
        if self.process is not None:
            self.process.poll()  # reap it once it exits
        return is_warm(self.key)


def _lock(key: str) -> Path:
    return cache_root() / MARKER_FOLDER / f"{key}.lock"


def warmer_running(key: str) -> bool:
    """Whether a live warmer holds the lock for `key`."""
    lock = _lock(key)
    try:
        pid = int(read_untrusted(lock, 64).decode().strip() or 0)
        age = time.time() - lock.stat().st_mtime
    except (OSError, ValueError):
        return False
    return age < LOCK_STALE_S and _alive(pid)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return True  # no cheap check; the lock's age decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_warmer(model_name: str, batch_size: int, key: str) -> Warmer:
    """Compile `model_name` for batches of `batch_size` in a low-priority background process
    that outlives this one if it must; none is started while another holds the key's lock."""
    if warmer_running(key):
        return Warmer(key, None)
    _lock(key).parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "core.training.compile_cache", model_name,
               str(batch_size), key]
    options: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL,
                               "stderr": subprocess.DEVNULL, "env": dict(os.environ)}
    if sys.platform == "win32":
        options["creationflags"] = subprocess.IDLE_PRIORITY_CLASS  # type: ignore[attr-defined]
    else:
        options["start_new_session"] = True  # Ctrl+C on the run does not reach it
    # The folder that holds `core`, so the child imports the same code as this process.
    options["cwd"] = str(Path(__file__).resolve().parents[2])
    return Warmer(key, subprocess.Popen(command, **options))


def _warm(model_name: str, batch_size: int, key: str) -> int:
    """The warmer process: take the lock, compile as the trainer would, mark it, unlock."""
    if hasattr(os, "nice"):
        os.nice(19)  # only the CPU time nobody else wants
    lock = _lock(key)
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        if warmer_running(key):
            return 0
        lock.unlink(missing_ok=True)  # a dead warmer's lock
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        import torch

        from core.models import build_model
        from core.training.speed import compile_for_training

        torch.set_num_threads(1)
        model = build_model(model_name)
        sample = torch.zeros(batch_size, 1, 28, 28)
        if cache_key(model, sample, False) != key:
            return 2  # not what the trainer will compile: nothing to warm
        compiled = compile_for_training(model, sample, use_amp=False)  # marks it when it works
        return 0 if compiled.forward is not model else 1
    finally:
        lock.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(_warm(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
