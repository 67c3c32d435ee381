"""Simulated full disk for subprocess tests where no tmpfs can be mounted.

Loaded by Python at start-up when this folder is on PYTHONPATH: every fsync of a file under
$DIGITLAB_TEST_FULL_DISK fails with ENOSPC, as a full disk makes writes fail.
"""

import errno
import os

_FULL = os.environ.get("DIGITLAB_TEST_FULL_DISK")
if _FULL:
    _real_fsync = os.fsync

    def _fsync(fd: int) -> None:
        try:
            path = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            path = ""
        if path.startswith(_FULL):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        _real_fsync(fd)

    os.fsync = _fsync
