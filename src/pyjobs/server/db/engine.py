"""Engines and sessions: SQLite (WAL) by default, PostgreSQL through psycopg 3."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

# An execution option: a session that only reads begins without taking the write lock.
_READ_ONLY = "pyjobs_read_only"


# How long a writer waits for SQLite's write lock before giving up.
BUSY_TIMEOUT_MS = 10_000


def _sqlite_connect(busy_timeout_ms: int, dbapi_connection: Any, _record: Any) -> None:
    # pysqlite would open a transaction only at the first write, so the reads before it
    # saw whatever other connections committed meanwhile, and a read-modify-write (the
    # run's status, then its task's) could lose an update. SQLAlchemy emits BEGIN instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer; NORMAL is durable across process crashes
    # (only an OS crash may lose the last commits), which is what WAL is designed for.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A writing transaction takes SQLite's one write lock up front, so read-modify-writes
    # run one after another (busy_timeout queues them); a read-only one reads a snapshot
    # and blocks nobody.
    mode = "DEFERRED" if connection.get_execution_options().get(_READ_ONLY) else "IMMEDIATE"
    connection.exec_driver_sql(f"BEGIN {mode}")


def engine_url(url: str) -> str:
    """`url` with its driver spelled out: a bare `postgresql://` means psycopg 3."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def libpq_url(url: str) -> str:
    """A PostgreSQL URL as libpq (and psycopg on its own) reads it: no `+driver`."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def make_engine(url: str, pool_size: int = 20, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    """An engine for `url`, tuned for its database (`busy_timeout_ms`: SQLite only)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        event.listen(engine, "connect", partial(_sqlite_connect, busy_timeout_ms))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        engine_url(url), pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size
    )


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(
            self.engine.execution_options(**{_READ_ONLY: True}), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error.

        On SQLite it holds the database's write lock from its first statement: what it
        reads cannot change under it before it writes.
        """
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A session that only reads: one consistent snapshot, no write lock on SQLite."""
        with self._readers() as session, session.begin():
            yield session

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
