"""Small file helpers every part of core shares: atomic writes and reading saved dataclasses.

Atomic writes: write a temporary file in the same folder, fsync, then rename over. A crash
mid-write leaves the old file (or none), never a half-written one. A write that fails (disk
full, quota, permissions, a folder where the file should be) raises `StorageError` naming the
folder, after removing its temporary file; the file it would have replaced stays as it was.
A process killed mid-write leaves its temporary file (`.<name>.<random>.tmp`):
`remove_stale_temp_files` sweeps those once they are old enough to belong to no live writer.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from core.errors import StorageError

T = TypeVar("T")
TEMP_SUFFIX = ".tmp"  # write_atomic's temporary files: "." + target name + "." + random + ".tmp"
STALE_TEMP_SECONDS = 15 * 60  # older temporary files belong to no live writer: remove them
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()  # read once: os.umask can only be read by setting it


def check_output_file(path: Path) -> Path:
    """Refuse, before any work, an output path that names a folder or lies under a file."""
    path = Path(path)
    if path.is_dir():
        raise StorageError(f"{path} is a folder; give the name of a file to write "
                           f"(inside it, or anywhere else).")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise StorageError(f"Cannot write {path}: {parent} is a file, not a folder.")
    return path


def storage_error(error: OSError, path: Path) -> StorageError:
    """One line naming the folder and what to do, for an OSError met while writing `path`."""
    folder = Path(path).parent
    if isinstance(error, StorageError):
        return error
    if error.errno in _DISK_FULL:
        return StorageError(f"The disk is full (or your quota is used up): cannot write "
                            f"{Path(path).name} in {folder}. Free some space and try again; "
                            f"files already there are intact.")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StorageError(f"No permission to write {Path(path).name} in {folder} "
                            f"({error.strerror}). Choose another folder or fix its permissions.")
    if isinstance(error, IsADirectoryError) or Path(path).is_dir():
        return StorageError(f"{path} is a folder; give a file name inside it.")
    reason = error.strerror or type(error).__name__
    return StorageError(f"Cannot write {Path(path).name} in {folder}: {reason}.")


def os_error_message(error: OSError) -> str:
    """One line for an OSError nobody caught closer: what failed, on which file."""
    filename = getattr(error, "filename", None)
    if error.errno in _DISK_FULL:
        return str(storage_error(error, Path(filename) if filename else Path.cwd() / "?"))
    reason = error.strerror or str(error) or type(error).__name__
    return f"{reason}: {filename}." if filename else f"{reason}."


def write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call `write(fileobj)` on a temp file next to `path`, then atomically replace `path`.

    Raises StorageError (no partial file left, `path` untouched) when the write fails.
    """
    path = check_output_file(Path(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX,
                                        dir=path.parent)
    except OSError as e:
        raise storage_error(e, path) from e
    # mkstemp makes the file private (0600); give it the permissions a plain open() would.
    with contextlib.suppress(OSError):
        os.chmod(tmp_name, 0o666 & ~_UMASK)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        if isinstance(e, OSError):
            raise storage_error(e, path) from e
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    write_atomic(path, lambda f: f.write(data))


def write_json_atomic(path: Path, obj: Any) -> None:
    text = json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n"
    write_bytes_atomic(path, text.encode("utf-8"))

def remove_stale_temp_files(folder: Path, older_than_s: float = STALE_TEMP_SECONDS) -> int:
    """Delete write_atomic's leftovers in `folder` older than `older_than_s`; returns how many.

    Only names write_atomic makes (".<name>.<random>.tmp", regular files, not links) are touched,
    so a user's own files are never removed. Errors are ignored: this is housekeeping.
    """
    removed = 0
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if not (entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX)):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime > older_than_s:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue
    return removed


def read_untrusted(path: Path, max_bytes: int, *, follow_links: bool = False) -> bytes:
    """The bytes of a file that may be anything: a regular file (not a FIFO, device, socket or
    folder) of at most `max_bytes`, checked before a byte is read. A link is refused, unless
    `follow_links` (a file the user named: then what it points to is checked instead). Raises
    OSError (FileNotFoundError, or a plain OSError saying in words what is wrong)."""
    path = Path(path)
    info = path.stat() if follow_links else path.lstat()
    if stat.S_ISLNK(info.st_mode):
        raise OSError(f"{path.name} is a link, not a file")
    _check_plain(path, info, max_bytes)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in never blocks open
    if not follow_links:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())  # what was opened, not what was looked at before
        _check_plain(path, info, max_bytes)
        # Read what the size says (+1 to see growth), never a max_bytes buffer up front.
        data = f.read(info.st_size + 1)
        if len(data) > info.st_size:
            data += f.read(max_bytes + 1 - len(data))
    if len(data) > max_bytes:
        raise OSError(f"{path.name} grew past {max_bytes:,} bytes while being read")
    return data


def check_regular_file(path: Path, max_bytes: int, *, follow_links: bool = False) -> None:
    """`read_untrusted`'s checks without reading: for readers that stream or map a file
    themselves (torch.load, np.load, a header read). Raises OSError saying what is wrong."""
    path = Path(path)
    info = path.stat() if follow_links else path.lstat()
    if stat.S_ISLNK(info.st_mode):
        raise OSError(f"{path.name} is a link, not a file")
    _check_plain(path, info, max_bytes)


def _check_plain(path: Path, info: os.stat_result, max_bytes: int) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise OSError(f"{path.name} is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else
                "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else
                "a socket" if stat.S_ISSOCK(info.st_mode) else "a special file")
        raise OSError(f"{path.name} is {kind}, not a regular file")
    if info.st_size > max_bytes:
        raise OSError(f"{path.name} is {info.st_size:,} bytes, more than the {max_bytes:,} "
                      f"such a file can hold")


def from_saved(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build dataclass `cls` from saved data, ignoring keys a newer version may have added."""
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in known})
