"""Measuring, sealing and deleting directory trees whose contents are untrusted data."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["remove_tree", "seal_tree"]

_GROUP_OTHER_WRITE = stat.S_IWGRP | stat.S_IWOTH


def seal_tree(root: Path) -> int:
    """Drop group/other write bits under ``root`` and return its disk usage in bytes, like du.

    Symlinks are counted but never followed or chmod-ed, and each inode counts once (hard
    links). Assumes nothing modifies the tree meanwhile: the build that made it has returned.
    """
    top = os.lstat(root)
    if not stat.S_ISDIR(top.st_mode):
        raise NotADirectoryError(f"{root} is not a directory")
    seen: set[tuple[int, int]] = set()
    total = _visit(str(root), top, seen)
    pending = [str(root)]
    while pending:
        with os.scandir(pending.pop()) as children:
            for child in children:
                info = child.stat(follow_symlinks=False)
                total += _visit(child.path, info, seen)
                if stat.S_ISDIR(info.st_mode):
                    pending.append(child.path)
    return total


def _visit(path: str, info: os.stat_result, seen: set[tuple[int, int]]) -> int:
    if not stat.S_ISLNK(info.st_mode) and info.st_mode & _GROUP_OTHER_WRITE:
        os.chmod(path, stat.S_IMODE(info.st_mode) & ~_GROUP_OTHER_WRITE)
    inode = (info.st_dev, info.st_ino)
    if inode in seen:
        return 0
    seen.add(inode)
    return info.st_blocks * 512


def remove_tree(path: Path) -> None:
    """Delete ``path`` recursively without following symlinks, even through read-only dirs.

    Entries that vanish meanwhile (another process deleting the same tree) are not errors.
    """
    top = os.fspath(path)

    def on_error(func: Callable[..., Any], name: str, error: BaseException) -> None:
        if isinstance(error, FileNotFoundError):
            return
        if not isinstance(error, PermissionError) or name == top:
            raise error
        # A build may leave directories without owner write or search bits (root never
        # notices, other users do): give them back to the owner, then retry that entry.
        os.chmod(os.path.dirname(name), stat.S_IRWXU)
        if stat.S_ISDIR(os.lstat(name).st_mode):
            os.chmod(name, stat.S_IRWXU)
            remove_tree(Path(name))
        else:
            func(name)

    if sys.version_info >= (3, 12):
        shutil.rmtree(top, onexc=on_error)
    else:
        shutil.rmtree(top, onerror=lambda func, name, info: on_error(func, name, info[1]))
