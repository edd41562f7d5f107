"""The bearer token pyjobs sends to the Argo Server: a fixed one, or a file that rotates.

A file (`PYJOBS_ARGO_TOKEN_FILE`) suits short-lived tokens: a projected ServiceAccount
token, which the kubelet replaces well before it expires, or one a secrets agent renews.
Every request asks for the header; the file is read again whenever it changed (the
kubelet swaps a symlink, so the file's identity changes), and only then.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from pyjobs.errors import BackendUnavailableError


def authorization(token: str | None) -> str | None:
    """The `Authorization` value for a token given with or without its `Bearer ` prefix."""
    if not token or not token.strip():
        return None
    token = token.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    return f"Bearer {token}"


class ArgoToken:
    """Where the Argo Server's token comes from; `header()` is current on every call."""

    def __init__(self, value: str | None = None, path: Path | None = None) -> None:
        if value is not None and path is not None:
            raise ValueError("a token or a token file, not both")
        self.path = path
        self._fixed = authorization(value)
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int, int] | None = None  # dev, inode, size, mtime
        self._read: str | None = None

    def header(self) -> str | None:
        """The `Authorization` header value now, or None when there is no token."""
        if self.path is None:
            return self._fixed
        try:
            info = os.stat(self.path)
            identity = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
            with self._lock:
                if identity != self._seen:
                    self._read = authorization(self.path.read_text(encoding="utf-8"))
                    self._seen = identity
                return self._read
        except OSError as error:
            # Retried like an unreachable server: a rotation may be half done.
            raise BackendUnavailableError(
                "Argo Server", f"cannot read the token file {self.path}: {error.strerror}"
            ) from error
