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
waits for it) so that the next run finds the cache warm. It is started when a budget run ends,
and waits while any time-budget run trains (`mark_training`): beside a run, even niced to the
bottom, it made the run's 2-thread steps ~1.3 s instead of ~15 ms (every op's threads wait for
the core it holds for a slice), so that run trained on one core.
It writes the same marker, and runs at most once at a time per model (a lock file holding its
pid). Once compiled, it times training steps of the compiled and the eager model, taking turns,
and keeps the ratio beside the marker (`measured_speedup`): whether compiling pays is this
machine's fact, not an assumption (on the 2-core EPYC with bf16 autocast it did not: 1.0x).
Torch-free until a model is compiled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.fileio import read_untrusted

if TYPE_CHECKING:
    import torch

MARKER_FOLDER = "digitlab-warm"  # inside TORCHINDUCTOR_CACHE_DIR
TIMES_FILE = "compile-times.json"  # this machine's last cold and warm compile seconds
LOCK_STALE_S = 20 * 60  # a warmer's lock older than this is from a process that died
TRAINING_PREFIX = "training-"  # + pid: a time-budget run is training (the warmer waits)
IDLE_POLL_S = 1.0  # the waiting warmer looks this often ...
# ... until no run has trained for this long: a run started right after the last one marks
# itself only once it has loaded (~3 s), and the compile would have taken a core from it.
QUIET_S = 6.0
MAX_WAIT_S = 4 * 3600  # ... and gives up after this long (the next run starts another)
# Recorded on the idle 2-core dev-cpu for dl-dilated-8k at batch 128 (issue 22): what a compile
# costs before this machine has measured its own (compile-times.json, updated by every compile).
DEFAULT_COLD_S = 28.0
DEFAULT_WARM_S = 2.5
# Compiled training steps per eager one on the CPU until the warmer has measured this machine's
# (`measured_speedup`): compiling cut an fp32 step by ~23% on the idle dev-cpu
# (benchmarks/RESULTS.md, "Training speed": 1/0.77 = 1.3x).
CPU_COMPILE_SPEEDUP = 1.3
SPEED_SUFFIX = ".speed.json"  # beside a key's marker: its measured eager and compiled step times
TIMED_ROUNDS = 6  # the warmer's timing: this many turns of ...
TIMED_STEPS = 4  # ... this many eager steps, then as many compiled ones


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


def measured_speedup(key: str) -> float | None:
    """Eager step time over compiled step time for `key`, as the warmer measured it on this
    machine (None before it has)."""
    try:
        saved = json.loads(read_untrusted(cache_root() / MARKER_FOLDER / f"{key}{SPEED_SUFFIX}",
                                          64 * 1024))
        eager, compiled = float(saved["eager_ms"]), float(saved["compiled_ms"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    if not (0 < eager < 60_000 and 0 < compiled < 60_000):
        return None
    return eager / compiled


def note_speed(key: str, eager_ms: float, compiled_ms: float) -> None:
    from core.fileio import write_json_atomic

    with contextlib.suppress(OSError):  # unmeasured, the next warmer measures again
        write_json_atomic(cache_root() / MARKER_FOLDER / f"{key}{SPEED_SUFFIX}",
                          {"eager_ms": round(eager_ms, 3), "compiled_ms": round(compiled_ms, 3),
                           "when": time.time()})


def mark_training() -> Path | None:
    """Say that this process trains to a time budget now (background compiles wait for it to
    end); returns the mark for `unmark_training`, None where it cannot be written."""
    folder = cache_root() / MARKER_FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
        mark = folder / f"{TRAINING_PREFIX}{os.getpid()}"
        mark.write_text(str(os.getpid()))
    except OSError:
        return None
    return mark


def unmark_training(mark: Path | None) -> None:
    if mark is not None:
        mark.unlink(missing_ok=True)


def training_now() -> bool:
    """Whether a live process other than this one has marked itself training."""
    for mark in (cache_root() / MARKER_FOLDER).glob(f"{TRAINING_PREFIX}*"):
        try:
            pid = int(mark.name.removeprefix(TRAINING_PREFIX))
        except ValueError:
            continue
        if pid == os.getpid():
            continue
        if _alive(pid):
            return True
        mark.unlink(missing_ok=True)  # a run that died mid-way
    return False


def _wait_while_training(lock: Path) -> bool:
    """Wait until no time-budget run has trained for QUIET_S (touching the lock: a waiting
    warmer is not a dead one); False if they kept training for MAX_WAIT_S."""
    started = quiet_since = time.time()
    while True:
        now = time.time()
        if training_now():
            quiet_since = now
        elif now - quiet_since >= QUIET_S:
            return True
        if now - started > MAX_WAIT_S:
            return False
        os.utime(lock)
        time.sleep(IDLE_POLL_S)


def _lock(key: str) -> Path:
    return cache_root() / MARKER_FOLDER / f"{key}.lock"


def _lock_pid(lock: Path) -> int:
    """The pid a lock file names (0: none, unreadable or not a number)."""
    try:
        return int(read_untrusted(lock, 64).decode().strip() or 0)
    except (OSError, ValueError):
        return 0


def warmer_running(key: str) -> bool:
    """Whether a live warmer holds the lock for `key`."""
    lock = _lock(key)
    pid = _lock_pid(lock)
    try:
        age = time.time() - lock.stat().st_mtime
    except OSError:
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


def start_warmer(model_name: str, batch_size: int, key: str,
                 use_amp: bool) -> subprocess.Popen[bytes] | None:
    """Compile `model_name` for batches of `batch_size` (bf16 autocast with `use_amp`) in a
    low-priority background process that outlives this one; none (None) is started while
    another holds the key's lock."""
    if warmer_running(key):
        return None
    _lock(key).parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "core.training.compile_cache", model_name,
               str(batch_size), key, "bf16" if use_amp else "fp32"]
    options: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL,
                               "stderr": subprocess.DEVNULL, "env": dict(os.environ)}
    if sys.platform == "win32":
        options["creationflags"] = subprocess.IDLE_PRIORITY_CLASS  # type: ignore[attr-defined]
    else:
        options["start_new_session"] = True  # Ctrl+C on the run does not reach it
    # The folder that holds `core`, so the child imports the same code as this process.
    options["cwd"] = str(Path(__file__).resolve().parents[2])
    process = subprocess.Popen(command, **options)
    # The lock is the child's from its first moment (whoever waits for background compiles,
    # e.g. a benchmark, sees it at once); the child finds its own pid there and goes on.
    with contextlib.suppress(OSError):
        fd = os.open(_lock(key), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        os.write(fd, str(process.pid).encode())
        os.close(fd)
    return process


def _lower_priority() -> None:
    """Only the CPU time nobody else wants. On Linux the warmer's own session (start_new_session)
    is its own scheduling autogroup, and the kernel shares the CPU between autogroups before it
    looks at a process's nice value: so the autogroup is niced too, else the "low-priority"
    compile took a whole core from the run beside it (2-thread steps 64 ms instead of 23 ms)."""
    if hasattr(os, "nice"):
        os.nice(19)
    with contextlib.suppress(OSError):  # not Linux, or no autogroups: nice alone is enough
        Path("/proc/self/autogroup").write_text("19")


def _time_steps(model: Any, compiled: Any, sample: Any, use_amp: bool) -> tuple[float, float]:
    """Median milliseconds of a training step, eager and compiled, timed in turns (so a load
    that comes and goes weighs on both alike); the model's weights are put back afterwards."""
    import statistics

    import torch

    from core.training.speed import weights_put_back
    from core.training.steps import optimizer_step

    optimizer = torch.optim.Adam(model.parameters(), 1e-4)
    constant = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    labels = torch.zeros(len(sample), dtype=torch.long)
    times: dict[bool, list[float]] = {False: [], True: []}
    with weights_put_back(model):
        for _ in range(TIMED_ROUNDS):
            for is_compiled, forward in ((False, model), (True, compiled)):
                for i in range(TIMED_STEPS + 1):  # the first of each turn is not timed
                    t0 = time.perf_counter()
                    optimizer_step(forward, optimizer, constant, sample, labels, use_amp=use_amp)
                    if i:
                        times[is_compiled].append(1000 * (time.perf_counter() - t0))
    return statistics.median(times[False]), statistics.median(times[True])


def _warm(model_name: str, batch_size: int, key: str, precision: str = "fp32") -> int:
    """The warmer process: take the lock, wait while time-budget runs train, compile as the
    trainer would, mark it, time compiled against eager steps, unlock."""
    _lower_priority()
    lock = _lock(key)
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        fd = -1
        if _lock_pid(lock) != os.getpid():  # else: start_warmer took it for this process
            if warmer_running(key):
                return 0
            lock.unlink(missing_ok=True)  # a dead warmer's lock
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    try:
        if fd >= 0:
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
        if not _wait_while_training(lock):
            return 3
        import torch

        from core.models import build_model
        from core.training.speed import compile_for_training

        torch.set_num_threads(1)
        use_amp = precision == "bf16"
        model = build_model(model_name)
        sample = torch.zeros(batch_size, 1, 28, 28)
        if cache_key(model, sample, use_amp) != key:
            return 2  # not what the trainer will compile: nothing to warm
        compiled = compile_for_training(model, sample, use_amp)  # marks it when it works
        if compiled.forward is model:
            return 1
        if not _wait_while_training(lock):  # a run started meanwhile: time on a quiet machine
            return 3
        note_speed(key, *_time_steps(model, compiled.forward, sample, use_amp))
        return 0
    finally:
        lock.unlink(missing_ok=True)


if __name__ == "__main__":
    model_arg, batch_arg, key_arg, *precision_arg = sys.argv[1:]
    sys.exit(_warm(model_arg, int(batch_arg), key_arg, *precision_arg))
