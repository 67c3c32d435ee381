"""A folder on a full disk, for the full-disk tests: a real tmpfs when this process may mount
one (root on Linux), else a simulation (fsync of files there fails with ENOSPC)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

SIMULATION = Path(__file__).resolve().parent / "enospc"


def _mount_tmpfs(folder: Path, size_kb: int) -> bool:
    if os.name != "posix" or os.geteuid() != 0:
        return False
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs",
                           str(folder)], capture_output=True)
    return proc.returncode == 0


def fill(folder: Path) -> None:
    """Write a filler file until the disk is full."""
    with open(folder / "filler.bin", "wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 4096)


@contextlib.contextmanager
def full_disk(folder: Path, monkeypatch: pytest.MonkeyPatch, size_kb: int = 2048
              ) -> Iterator[tuple[dict[str, str], callable]]:  # type: ignore[valid-type]
    """Yields (extra env for subprocesses, fill()) for `folder`: call fill() to make it full.

    Until fill() is called the folder is an ordinary small disk (real tmpfs) or an ordinary
    folder (simulation)."""
    folder.mkdir(parents=True, exist_ok=True)
    real = _mount_tmpfs(folder, size_kb)
    env: dict[str, str] = {}

    def make_full() -> None:
        if real:
            fill(folder)
            return
        env.update({"PYTHONPATH": os.pathsep.join([str(SIMULATION), str(Path.cwd())]),
                    "DIGITLAB_TEST_FULL_DISK": str(folder)})
        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            try:
                path = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                path = ""
            if path.startswith(str(folder)):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)

    try:
        yield env, make_full
    finally:
        if real:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
