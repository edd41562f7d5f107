"""API tokens: created once and shown once, stored only as a SHA-256, checked per request."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from pyjobs.errors import ConflictError, UnauthorizedError
from pyjobs.server.db.engine import Database
from pyjobs.server.db.models import Token
from pyjobs.server.ids import new_id

TOKEN_PREFIX = "pjt_"  # noqa: S105 - a prefix that makes leaked tokens greppable
_CACHE_SECONDS = 5.0


def hash_token(token: str) -> str:
    """The stored form of a token (tokens are 256 random bits: no salt or KDF needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    """A token just created: the secret is shown once and never stored."""

    id: str
    name: str
    admin: bool
    secret: str


def create_token(database: Database, name: str, admin: bool = False) -> NewToken:
    """Create a token named `name`; `ConflictError` if the name is taken."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = Token(
        id=new_id(),
        name=name,
        token_hash=hash_token(secret),
        admin=admin,
        created_at=datetime.now(UTC),
    )
    try:
        with database.session() as session:
            session.add(token)
    except IntegrityError:
        raise ConflictError(f"a token named {name!r} already exists") from None
    return NewToken(token.id, name, admin, secret)


@dataclass(frozen=True)
class Identity:
    """Whom a valid token belongs to."""

    token_id: str
    admin: bool


class TokenChecker:
    """Checks bearer tokens against the database, remembering answers for a few seconds."""

    def __init__(self, database: Database) -> None:
        self.db = database
        self._lock = threading.Lock()
        self._known: dict[str, tuple[float, Identity | None]] = {}
        self._any: tuple[float, bool] = (0.0, False)

    def tokens_exist_cached(self) -> bool | None:
        """`tokens_exist` from memory, or None when only the database can tell."""
        with self._lock:
            checked_at, answer = self._any
        if answer or time.monotonic() - checked_at < _CACHE_SECONDS:
            return answer  # once tokens exist they keep being required
        return None

    def identify_cached(self, token: str) -> Identity | None:
        """`identify` from memory (raising alike), or None when only the database can tell."""
        digest = hash_token(token)
        with self._lock:
            cached = self._known.get(digest)
        if cached is None or time.monotonic() - cached[0] >= _CACHE_SECONDS:
            return None
        if cached[1] is None:
            raise UnauthorizedError("invalid token")
        return cached[1]

    def tokens_exist(self) -> bool:
        """Whether any token is configured (if none, the server is loopback-only)."""
        now = time.monotonic()
        cached = self.tokens_exist_cached()
        if cached is not None:
            return cached
        with self.db.reader() as session:
            answer = bool(session.scalar(select(exists().where(Token.id.is_not(None)))))
        with self._lock:
            self._any = (now, answer)
        return answer

    def identify(self, token: str) -> Identity:
        """The identity of a bearer token; `UnauthorizedError` if it is not valid."""
        digest = hash_token(token)
        now = time.monotonic()
        with self._lock:
            cached = self._known.get(digest)
        if cached is not None and now - cached[0] < _CACHE_SECONDS:
            identity = cached[1]
        else:
            with self.db.reader() as session:
                row = session.scalar(select(Token).where(Token.token_hash == digest))
            # compare_digest: the lookup is by hash, this keeps the final check constant-time.
            identity = (
                Identity(row.id, row.admin)
                if row is not None and hmac.compare_digest(row.token_hash, digest)
                else None
            )
            with self._lock:
                if len(self._known) > 10_000:
                    self._known.clear()
                self._known[digest] = (now, identity)
        if identity is None:
            raise UnauthorizedError("invalid token")
        return identity
