"""Advisory ``flock`` locks on files that may be renamed or deleted while others wait."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["lock_existing", "lock_file"]


def lock_file(path: Path, *, shared: bool = False, blocking: bool = True) -> int:
    """Create ``path`` if needed and ``flock`` it; return the fd, whose closing unlocks.

    Raises BlockingIOError when ``blocking`` is False and another holder conflicts.
    """
    while True:
        fd = _lock(path, shared=shared, blocking=blocking, create=True)
        if fd is not None:
            return fd


def lock_existing(path: Path, *, shared: bool, blocking: bool = True) -> int | None:
    """``flock`` an existing file and return the fd, or None if it is (or meanwhile went) away.

    Raises BlockingIOError when ``blocking`` is False and another holder conflicts.
    """
    return _lock(path, shared=shared, blocking=blocking, create=False)


def _lock(path: Path, *, shared: bool, blocking: bool, create: bool) -> int | None:
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | (os.O_CREAT if create else 0)
    operation = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if blocking else fcntl.LOCK_NB)
    try:
        fd = os.open(path, flags, 0o644)
    except FileNotFoundError:
        if create:
            raise
        return None
    try:
        fcntl.flock(fd, operation)
        # The lock holds on the inode: if the file, or a directory above it, was renamed or
        # removed while we waited, the lock protects nothing any more.
        held = os.fstat(fd)
        now = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    if (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino):
        return fd
    os.close(fd)
    return None
