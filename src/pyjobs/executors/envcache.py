"""Content-addressed cache of Python environments: built once per key, then shared read-only.

Layout under the root: ``envs/<digest>/{env/, meta.json, lock}`` are
published envs; ``staging/<digest>.<random>/`` are builds in progress; ``locks/<digest>.lock``
serialise builds of one key; ``trash/`` holds envs being deleted; ``evict.lock`` serialises
evictions. Concurrency is by ``flock`` only, so it holds across threads and processes alike.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyjobs.errors import EnvInUseError
from pyjobs.executors.fslocks import lock_existing, lock_file
from pyjobs.executors.fstree import remove_tree, seal_tree

__all__ = ["EnvCache", "EnvEntry", "EnvHandle", "EnvKey"]

logger = logging.getLogger(__name__)

# Bump when the digest input or the on-disk layout changes: old entries then simply miss.
_FORMAT = 1
_ENV = "env"
_META = "meta.json"
_LOCK = "lock"
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class EnvKey:
    """What makes two environments interchangeable: interpreter, platform and dependencies."""

    python_version: str
    requirements: tuple[str, ...]
    requirements_text: str = ""
    platform: str = ""

    def __post_init__(self) -> None:
        # Equal digests must mean equal keys (and hashes), so order and duplicates go here.
        object.__setattr__(self, "requirements", tuple(sorted(set(self.requirements))))

    @property
    def digest(self) -> str:
        """Stable sha256 hex of the canonical JSON of the key's fields."""
        canonical = json.dumps(
            {"format": _FORMAT, **self._fields()},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def _fields(self) -> dict[str, Any]:
        return {
            "python_version": self.python_version,
            "requirements": list(self.requirements),
            "requirements_text": self.requirements_text,
            "platform": self.platform,
        }


@dataclass(frozen=True)
class EnvHandle:
    """A ready environment, valid (never evicted) while the ``acquire`` context is held."""

    path: Path
    key: EnvKey
    hit: bool
    build_seconds: float


@dataclass(frozen=True)
class EnvEntry:
    """One published environment, as seen by metrics and administration."""

    digest: str
    path: Path
    size_bytes: int
    last_used: float
    key: EnvKey
    build_seconds: float


class EnvCache:
    """Environments keyed by ``EnvKey.digest`` under ``root``, evicted LRU beyond ``max_bytes``."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self._envs = self.root / "envs"
        self._staging = self.root / "staging"
        self._locks = self.root / "locks"
        self._trash = self.root / "trash"
        for directory in (self.root, self._envs, self._staging, self._locks, self._trash):
            directory.mkdir(parents=True, exist_ok=True)
        # Sandboxed runs start as an unprivileged uid and must traverse down to env/.
        for directory in (self.root, self._envs):
            directory.chmod(0o755)
        self._clean_staging()
        self._empty_trash()

    @contextmanager
    def acquire(self, key: EnvKey, build: Callable[[Path], None]) -> Iterator[EnvHandle]:
        """Ready env for key; while the context is held the env is in use and never evicted."""
        digest = key.digest
        fd = self._open_published(digest)
        hit, seconds = True, 0.0
        if fd is None:
            fd, hit, seconds = self._build_or_wait(key, digest, build)
        try:
            if not hit:
                self._evict_quietly()
            yield EnvHandle(self._envs / digest / _ENV, key, hit, seconds)
        finally:
            os.close(fd)

    def evict(self) -> list[str]:
        """Evict least recently used envs not in use until the total fits; return their digests.

        Also deletes staging dirs of crashed builds, as at start-up.
        """
        # A long-lived server also picks up builds of other processes that crashed since.
        self._clean_staging()
        if self.max_bytes <= 0:
            return []
        evicted: list[str] = []
        doomed: list[Path] = []
        guard = lock_file(self.root / "evict.lock")
        try:
            entries = sorted(self.entries(), key=lambda entry: entry.last_used)
            total = sum(entry.size_bytes for entry in entries)
            for entry in entries:
                if total <= self.max_bytes:
                    break
                try:
                    moved = self._unpublish(entry.digest)
                except EnvInUseError:
                    continue
                if moved is not None:
                    doomed.append(moved)
                    evicted.append(entry.digest)
                    total -= entry.size_bytes
        finally:
            os.close(guard)
        # Deleting is slow and needs no lock: the envs already vanished from envs/.
        for path in doomed:
            self._delete_quietly(path)
        return evicted

    def entries(self) -> list[EnvEntry]:
        """List the published environments, in no particular order."""
        found = []
        for child in os.scandir(self._envs):
            if not _is_digest(child.name):
                continue
            entry = Path(child.path)
            try:
                meta = json.loads((entry / _META).read_text(encoding="utf-8"))
                last_used = os.stat(entry / _LOCK).st_mtime
                key = EnvKey(
                    python_version=meta["key"]["python_version"],
                    requirements=tuple(meta["key"]["requirements"]),
                    requirements_text=meta["key"]["requirements_text"],
                    platform=meta["key"]["platform"],
                )
                found.append(
                    EnvEntry(
                        digest=child.name,
                        path=entry / _ENV,
                        size_bytes=int(meta["size_bytes"]),
                        last_used=last_used,
                        key=key,
                        build_seconds=float(meta["build_seconds"]),
                    )
                )
            except (OSError, ValueError, KeyError, TypeError):
                # Removed meanwhile, or not written by this format: not an entry.
                continue
        return found

    def remove(self, digest: str) -> bool:
        """Delete one env; False if absent, EnvInUseError if a run is using it."""
        if not _is_digest(digest):
            return False
        moved = self._unpublish(digest)
        if moved is None:
            return False
        self._delete_quietly(moved)
        return True

    def _open_published(self, digest: str) -> int | None:
        # The hit path: open, flock, fstat, stat, utime. No tree walk, no metadata read.
        fd = lock_existing(self._envs / digest / _LOCK, shared=True)
        if fd is not None:
            now = time.time_ns()
            os.utime(fd, ns=(now, now))
        return fd

    def _build_or_wait(
        self, key: EnvKey, digest: str, build: Callable[[Path], None]
    ) -> tuple[int, bool, float]:
        builder = lock_file(self._locks / f"{digest}.lock")
        try:
            fd = self._open_published(digest)
            if fd is not None:
                return fd, True, 0.0
            fd, seconds = self._build(key, digest, build)
            return fd, False, seconds
        finally:
            os.close(builder)

    def _build(self, key: EnvKey, digest: str, build: Callable[[Path], None]) -> tuple[int, float]:
        stage = Path(tempfile.mkdtemp(prefix=f"{digest}.", dir=self._staging))
        # Builds run sandboxed as another uid, which must reach env/ (but not list stage/).
        stage.chmod(0o711)
        fd = -1
        try:
            env = stage / _ENV
            env.mkdir()
            env.chmod(0o755)  # whatever the umask: sandboxed runs read it as another uid
            started = time.monotonic()
            build(env)
            seconds = time.monotonic() - started
            size = seal_tree(env)
            self._write_meta(stage / _META, key, digest, size, seconds)
            # Locked before the rename, so no evictor can take the env between publish and use.
            fd = lock_file(stage / _LOCK, shared=True)
            stage.chmod(0o755)
            # A crash must never publish an env whose files are still only in the page cache.
            os.sync()
            os.rename(stage, self._envs / digest)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            self._delete_quietly(stage)
            raise
        logger.info("built env %s in %.1f s (%d bytes)", digest, seconds, size)
        return fd, seconds

    @staticmethod
    def _write_meta(path: Path, key: EnvKey, digest: str, size: int, seconds: float) -> None:
        meta = {
            "format": _FORMAT,
            "digest": digest,
            "key": key._fields(),
            "size_bytes": size,
            "build_seconds": seconds,
            "built_at": time.time(),
        }
        with path.open("w", encoding="utf-8") as out:
            json.dump(meta, out, sort_keys=True, indent=2)
            out.write("\n")

    def _unpublish(self, digest: str) -> Path | None:
        """Move a published env into the trash; None if absent, EnvInUseError if in use."""
        try:
            fd = lock_existing(self._envs / digest / _LOCK, shared=False, blocking=False)
        except BlockingIOError:
            raise EnvInUseError(digest) from None
        if fd is None:
            return None
        try:
            target = self._trash / f"{digest}.{uuid.uuid4().hex}"
            os.rename(self._envs / digest, target)
        finally:
            os.close(fd)
        logger.info("removed env %s", digest)
        return target

    def _evict_quietly(self) -> None:
        # Eviction after a publish is housekeeping: it must not fail the run that triggered it.
        try:
            self.evict()
        except OSError:
            logger.exception("env cache eviction failed")

    @staticmethod
    def _delete_quietly(path: Path) -> None:
        try:
            remove_tree(path)
        except OSError:
            logger.exception("could not delete %s; the next start retries", path)

    def _clean_staging(self) -> None:
        """Delete builds left by crashed processes: those whose builder lock is free."""
        for child in os.scandir(self._staging):
            digest = child.name.partition(".")[0]
            if not _is_digest(digest):
                continue
            try:
                builder = lock_file(self._locks / f"{digest}.lock", blocking=False)
            except BlockingIOError:
                continue
            try:
                target = self._trash / f"{child.name}.{uuid.uuid4().hex}"
                os.rename(child.path, target)
            except FileNotFoundError:
                continue
            finally:
                os.close(builder)
            logger.warning("deleting staging dir %s left by a crashed build", child.name)
            self._delete_quietly(target)

    def _empty_trash(self) -> None:
        for child in os.scandir(self._trash):
            self._delete_quietly(Path(child.path))


def _is_digest(name: str) -> bool:
    return len(name) == 64 and set(name) <= _HEX
