"""Host-side handling of a run's workdir after the sandbox wrote to it.

Everything in a workdir is attacker-controlled once a run started: a name may be a
symlink to a host file, a FIFO that blocks a reader forever, or a directory swapped
for a link between a check and a use (the Judge0 escapes). These helpers never follow
a link the sandbox could have planted, and never chown or chmod by name.
"""

import os
import shutil
import stat
from pathlib import Path, PurePosixPath

__all__ = ["read_workdir_file", "remove_workdir"]


def read_workdir_file(workdir: Path, relpath: str, max_bytes: int) -> bytes:
    """Read at most ``max_bytes`` of a regular file below ``workdir`` without following links.

    Raises OSError (ELOOP, ENOTDIR, …) when any component is a symlink, and ValueError when
    the name leaves the workdir or the file is not a regular file.
    """
    parts = PurePosixPath(relpath).parts
    if not parts or parts[0] == "/" or ".." in parts:
        raise ValueError(f"{relpath!r} is not a path inside the workdir")
    nofollow = os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY | nofollow)
    try:
        for part in parts[:-1]:
            next_fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | nofollow, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        # O_NONBLOCK: opening a FIFO planted under this name must not hang the server.
        file_fd = os.open(parts[-1], os.O_RDONLY | os.O_NONBLOCK | nofollow, dir_fd=fd)
    finally:
        os.close(fd)
    try:
        if not stat.S_ISREG(os.fstat(file_fd).st_mode):
            raise ValueError(f"{relpath!r} is not a regular file")
        chunks: list[bytes] = []
        remaining = max_bytes
        while remaining > 0 and (chunk := os.read(file_fd, min(remaining, 1 << 20))):
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(file_fd)


def remove_workdir(workdir: Path) -> None:
    """Delete a workdir and everything in it, unlinking symlinks rather than following them."""
    if not shutil.rmtree.avoids_symlink_attacks:
        # Without the fd-based implementation rmtree can be raced into deleting host files.
        raise RuntimeError("shutil.rmtree is not symlink-attack safe on this platform")
    st = os.lstat(workdir)
    if stat.S_ISLNK(st.st_mode):
        os.unlink(workdir)
        return
    shutil.rmtree(workdir)
