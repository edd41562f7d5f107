"""Insert a batch of new tasks and their first runs from the event loop, without a thread.

Handing every batch to a writer thread cost more CPU than the insert itself: each sqlite3
or psycopg call releases the GIL, and the event loop and the thread then traded it back and
forth many times per batch (≈160 µs a submission, measured). So SQLite is written in place:
a commit in WAL mode without fsync takes tens of µs, and the loop's own connection never
waits for the write lock (busy timeout 0): when another writer holds it, that batch alone
waits for it in a worker thread. PostgreSQL is written through psycopg's asyncio
connection: the loop serves other requests while the commit travels.
"""

from __future__ import annotations

from typing import Any, Protocol

from anyio import to_thread
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from pyjobs.server.db.engine import Database, engine_url, make_engine
from pyjobs.server.db.models import Base, Run, Task

# Core statements on the tables (not the ORM classes), compiled once and cached.
_INSERT_TASK = Base.metadata.tables[Task.__tablename__].insert()
_INSERT_RUN = Base.metadata.tables[Run.__tablename__].insert()

Rows = list[dict[str, Any]]


class BatchInserter(Protocol):
    """Stores tasks and their runs in one transaction; raises what the database raised."""

    async def insert(self, tasks: Rows, runs: Rows) -> None:
        """Return once the rows are committed."""

    async def close(self) -> None:
        """Release the connections."""


def batch_inserter(database: Database) -> BatchInserter:
    """The inserter for `database`'s kind."""
    if database.dialect == "sqlite":
        return SqliteBatches(database)
    return AsyncBatches(database.url)


def _insert(connection: Connection, tasks: Rows, runs: Rows) -> None:
    # The tasks first: the runs refer to them.
    connection.execute(_INSERT_TASK, tasks)
    connection.execute(_INSERT_RUN, runs)


class SqliteBatches:
    """SQLite: in place, on one connection of its own that never waits for the lock."""

    def __init__(self, database: Database) -> None:
        self.db = database
        self._engine: Engine = make_engine(database.url, pool_size=1, busy_timeout_ms=0)
        self._connection: Connection | None = None

    async def insert(self, tasks: Rows, runs: Rows) -> None:
        """Commit now, or in a worker thread if another writer holds the lock."""
        try:
            with self._connect().begin() as transaction:
                _insert(transaction.connection, tasks, runs)
            return
        except OperationalError as error:
            # SQLITE_BUSY at BEGIN IMMEDIATE: nothing was written; anything else is real.
            if getattr(error.orig, "sqlite_errorname", None) != "SQLITE_BUSY":
                raise
        await to_thread.run_sync(self._insert_waiting, tasks, runs)

    def _connect(self) -> Connection:
        if self._connection is None or self._connection.invalidated:
            self._connection = self._engine.connect()
        return self._connection

    def _insert_waiting(self, tasks: Rows, runs: Rows) -> None:
        with self.db.engine.begin() as connection:
            _insert(connection, tasks, runs)

    async def close(self) -> None:
        """Close the loop's connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._engine.dispose()


class AsyncBatches:
    """PostgreSQL: on one asyncio connection of psycopg's, awaiting the commit."""

    def __init__(self, url: str) -> None:
        # One flush is in flight at a time: one connection, kept (a pool's checkout,
        # ping and reset were a tenth of a submission's CPU).
        self._engine: AsyncEngine = create_async_engine(
            engine_url(url), pool_size=1, max_overflow=0
        )
        self._connection: AsyncConnection | None = None

    async def insert(self, tasks: Rows, runs: Rows) -> None:
        """Commit the rows in one transaction, on a new connection if the kept one died."""
        try:
            await self._insert(tasks, runs)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            # Dead since the last batch (a database restart, an idle timeout): its first
            # statement failed, so nothing was written. Ids are the client's own: should the
            # commit itself have been cut off after all, the retry fails as a duplicate.
            self._connection = None
            await self._insert(tasks, runs)

    async def _insert(self, tasks: Rows, runs: Rows) -> None:
        if self._connection is None or self._connection.invalidated:
            self._connection = await self._engine.connect()
        async with self._connection.begin():
            await self._connection.run_sync(_insert, tasks, runs)

    async def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
        await self._engine.dispose()
