"""A run's log: raw bytes in a file, capped, followed live by any number of readers."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

DEFAULT_OUTPUT_LIMIT = 10 * 1024 * 1024
_READ_CHUNK = 64 * 1024


def log_dir(home: Path, run_id: str) -> Path:
    """The directory of a run's log under `PYJOBS_HOME` (the one place that decides it)."""
    return home / "runs" / run_id


def log_path(home: Path, run_id: str) -> Path:
    """The log file of a run."""
    return log_dir(home, run_id) / "log"


class RunLog:
    """Append-only log of one run; `follow` yields what is written until the log closes.

    Output past the limit is counted and dropped, and one line says so: the run goes on
    (a chatty program is not an error), so a reader never sees more than the limit.
    """

    def __init__(self, path: Path, limit: int = DEFAULT_OUTPUT_LIMIT, written: int = 0) -> None:
        self.path = path
        self.limit = limit
        # A log taken over from an earlier server (Argo runs) counts what it already holds.
        self._written = written
        self.dropped = 0
        self._closed = False
        self._changed = threading.Condition()
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_NOFOLLOW: the host never writes through a symlink someone planted here.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o640)
        self._file = os.fdopen(fd, "ab", buffering=0)

    @property
    def truncated(self) -> bool:
        """True when output was dropped because of the limit."""
        return self.dropped > 0

    def note(self, text: str) -> None:
        """A line from pyjobs itself (warnings, summaries); not counted against the limit."""
        self._append(f"[pyjobs] {text}\n".encode())

    def write(self, data: bytes) -> None:
        """Output of the run, cut at the limit."""
        room = self.limit - self._written
        if room <= 0:
            self.dropped += len(data)
            return
        kept = data[:room]
        self._written += len(kept)
        self._append(kept)
        if len(kept) < len(data):
            self.dropped += len(data) - len(kept)
            limit_mib = self.limit / (1024 * 1024)
            self._append(
                f"\n[pyjobs] output truncated at {limit_mib:g} MiB; the run goes on, "
                "further output is discarded\n".encode()
            )

    def drain(self, fd: int) -> None:
        """Copy everything readable from `fd` into the log until end of file."""
        while chunk := os.read(fd, _READ_CHUNK):
            self.write(chunk)

    def close(self) -> None:
        """No more output will come; followers finish once they have read it all."""
        with self._changed:
            self._closed = True
            self._file.close()
            self._changed.notify_all()

    def _append(self, data: bytes) -> None:
        with self._changed:
            if self._closed:
                return
            self._file.write(data)
            self._changed.notify_all()

    def follow(self, poll: float = 0.5) -> Iterator[bytes]:
        """Yield the log from the start, then new output as it comes, until closed."""
        with open(self.path, "rb") as reader:
            while True:
                chunk = reader.read(_READ_CHUNK)
                if chunk:
                    yield chunk
                    continue
                with self._changed:
                    if os.fstat(reader.fileno()).st_size > reader.tell():
                        continue  # written between our read and taking the lock
                    if self._closed:
                        rest = reader.read()
                        if rest:
                            yield rest
                        return
                    self._changed.wait(poll)


def read_log(path: Path) -> Iterator[bytes]:
    """Yield a finished run's log file in chunks (empty if it does not exist)."""
    try:
        reader = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        return
    with reader:
        while chunk := reader.read(_READ_CHUNK):
            yield chunk
