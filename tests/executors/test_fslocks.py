from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest

from pyjobs.executors.fslocks import lock_existing, lock_file


def test_shared_locks_coexist_and_exclude_an_exclusive_one(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    first = lock_file(path, shared=True)
    second = lock_existing(path, shared=True, blocking=False)
    assert second is not None
    with pytest.raises(BlockingIOError):
        lock_file(path, blocking=False)
    os.close(first)
    os.close(second)
    os.close(lock_file(path, blocking=False))


def test_missing_file_is_reported_gone(tmp_path: Path) -> None:
    assert lock_existing(tmp_path / "nothing", shared=True) is None


def test_lock_on_a_file_renamed_away_while_waiting_is_refused(tmp_path: Path) -> None:
    (tmp_path / "entry").mkdir()
    path = tmp_path / "entry" / "lock"
    holder = lock_file(path)
    results: list[int | None] = []
    waiter = threading.Thread(target=lambda: results.append(lock_existing(path, shared=True)))
    waiter.start()
    time.sleep(0.1)  # let the waiter block on the lock (if not, it finds the file gone: same)
    os.rename(tmp_path / "entry", tmp_path / "gone")
    os.close(holder)
    waiter.join(timeout=10)
    assert results == [None]


def test_lock_on_a_file_replaced_while_waiting_is_refused(tmp_path: Path) -> None:
    # An env evicted and rebuilt under the same digest while an acquirer waited.
    (tmp_path / "entry").mkdir()
    path = tmp_path / "entry" / "lock"
    holder = lock_file(path)
    results: list[int | None] = []
    waiter = threading.Thread(target=lambda: results.append(lock_existing(path, shared=True)))
    waiter.start()
    time.sleep(0.1)
    os.rename(tmp_path / "entry", tmp_path / "gone")
    (tmp_path / "entry").mkdir()
    (tmp_path / "entry" / "lock").touch()
    os.close(holder)
    waiter.join(timeout=10)
    assert results == [None]


def test_lock_file_follows_a_replaced_file(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    holder = lock_file(path)
    results: list[int] = []
    waiter = threading.Thread(target=lambda: results.append(lock_file(path)))
    waiter.start()
    time.sleep(0.1)
    os.unlink(path)
    os.close(holder)
    waiter.join(timeout=10)
    [fd] = results
    assert os.fstat(fd).st_ino == os.stat(path).st_ino  # locked the file that is there now
    with pytest.raises(BlockingIOError):
        fcntl.flock(os.open(path, os.O_RDONLY), fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(fd)


def test_symlinked_lock_file_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "target").touch()
    (tmp_path / "lock").symlink_to(tmp_path / "target")
    with pytest.raises(OSError, match="symbolic links"):
        lock_existing(tmp_path / "lock", shared=True)
