"""Insert a batch of new tasks and their first runs from the event loop, without a thread.

Handing every batch to a writer thread cost more CPU than the insert itself: each sqlite3
or psycopg call releases the GIL, and the event loop and the thread then traded it back and
forth many times per batch (≈160 µs a submission, measured). So SQLite is written in place:
a commit in WAL mode without fsync takes tens of µs, and the loop's own connection never
waits for the write lock (busy timeout 0): when another writer holds it, that batch alone
waits for it in a worker thread. PostgreSQL is written through psycopg's asyncio
connections, one statement per batch: the loop serves other requests while it travels.

Both talk to the driver directly. SQLAlchemy's per-row parameter processing and per-call
bookkeeping cost more than the database's own work (a batch of 16 on SQLite: 150-190 µs a
submission through SQLAlchemy Core, ≈45 of them in sqlite3 itself). The rows are still
stored exactly as the ORM stores and reads them (SQLite's values go through each column's
own bind processor), and errors are raised as SQLAlchemy's, as its engine would raise them.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, cast

import psycopg
from anyio import to_thread
from sqlalchemy import Engine, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.pool import PoolProxiedConnection

from pyjobs.server.db.engine import Database, libpq_url, make_engine
from pyjobs.server.db.models import Base, Run, Task

TASKS: Table = Base.metadata.tables[Task.__tablename__]
RUNS: Table = Base.metadata.tables[Run.__tablename__]

Rows = list[dict[str, Any]]


class BatchInserter(Protocol):
    """Stores tasks and their runs in one transaction; raises what the database raised."""

    # How many inserts may be in flight at once.
    connections: int

    async def insert(self, tasks: Rows, runs: Rows) -> None:
        """Return once the rows are committed."""

    async def close(self) -> None:
        """Release the connections."""


def batch_inserter(database: Database) -> BatchInserter:
    """The inserter for `database`'s kind."""
    if database.dialect == "sqlite":
        return SqliteBatches(database)
    return PostgresBatches(database.url)


def _columns(table: Table, rows: Rows) -> tuple[str, ...]:
    """The columns the rows give (all give the same), checked against the table."""
    columns = tuple(rows[0])
    _check_columns(table, columns)
    return columns


@functools.cache  # the rows of every batch give the same columns: checked once
def _check_columns(table: Table, columns: tuple[str, ...]) -> None:
    # What SQLAlchemy would fill in by itself must be given: these inserts bypass it.
    defaulted = [c.name for c in table.columns if c.default is not None and c.name not in columns]
    unknown = [name for name in columns if name not in table.columns]
    if defaulted or unknown:
        raise ValueError(f"{table.name}: rows lack {defaulted} or have unknown {unknown}")


# Values the rows of one submission share (its spec snapshot, its time) are encoded once.
_Memo = dict[tuple[type, int], Any]


class _SqliteStatement:
    """One table's INSERT on SQLite, with each column's bind processor, made once."""

    def __init__(self, table: Table, columns: tuple[str, ...], dialect: Dialect) -> None:
        # The table's own column names (checked by _columns), nothing a client sent.
        names, marks = ", ".join(columns), ", ".join("?" for _ in columns)
        self.sql = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"  # noqa: S608
        self.processors: list[tuple[str, type, Callable[[Any], Any] | None]] = []
        for name in columns:
            column_type = table.c[name].type
            process = column_type.dialect_impl(dialect).bind_processor(dialect)
            self.processors.append((name, type(column_type), process))

    def parameters(self, rows: Rows, memo: _Memo) -> list[list[Any]]:
        """Each row's values as sqlite3 binds them, stored as the ORM would store them."""
        parameters = []
        for row in rows:
            values = []
            for name, kind, process in self.processors:
                value = row[name]
                if process is not None:
                    # Columns of one type encode a value alike; the memo lives no longer
                    # than the rows, so no id is reused meanwhile.
                    key = (kind, id(value))
                    if key not in memo:
                        memo[key] = process(value)
                    value = memo[key]
                values.append(value)
            parameters.append(values)
        return parameters


class SqliteBatches:
    """SQLite: in place, on one connection of its own that never waits for the lock."""

    # An insert runs to its end without giving the loop back: one is in flight at most.
    connections = 1

    def __init__(self, database: Database) -> None:
        self.db = database
        self._engine: Engine = make_engine(database.url, pool_size=1, busy_timeout_ms=0)
        self._pooled: PoolProxiedConnection | None = None

    async def insert(self, tasks: Rows, runs: Rows) -> None:
        """Commit now, or in a worker thread if another writer holds the lock."""
        statements = self._statements(tasks, runs)
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if error.sqlite_errorname != "SQLITE_BUSY":
                self._release()
                raise _translated(error, "BEGIN IMMEDIATE") from error
            # Another writer holds the lock: wait for it (busy timeout) off the event loop.
            await to_thread.run_sync(self._insert_waiting, statements)
            return
        _write(connection, statements)

    def _statements(self, tasks: Rows, runs: Rows) -> list[tuple[str, list[list[Any]]]]:
        memo: _Memo = {}
        statements = []
        # The tasks first: the runs refer to them.
        for table, rows in ((TASKS, tasks), (RUNS, runs)):
            statement = _sqlite_statement(table, _columns(table, rows), self._engine.dialect)
            statements.append((statement.sql, statement.parameters(rows, memo)))
        return statements

    def _connect(self) -> sqlite3.Connection:
        # A connection of the engine's, set up as every other (WAL, foreign keys, no
        # implicit transactions), but used through sqlite3 alone.
        if self._pooled is None:
            self._pooled = self._engine.raw_connection()
        return cast(sqlite3.Connection, self._pooled.driver_connection)

    def _release(self) -> None:
        if self._pooled is not None:
            self._pooled.invalidate()  # not trusted again: the next batch opens another
            self._pooled = None

    def _insert_waiting(self, statements: list[tuple[str, list[list[Any]]]]) -> None:
        pooled = self.db.engine.raw_connection()
        try:
            connection = cast(sqlite3.Connection, pooled.driver_connection)
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise _translated(error, "BEGIN IMMEDIATE") from error
            _write(connection, statements)
        finally:
            pooled.close()

    async def close(self) -> None:
        """Close the loop's connection."""
        if self._pooled is not None:
            self._pooled.close()
            self._pooled = None
        self._engine.dispose()


def _write(connection: sqlite3.Connection, statements: list[tuple[str, list[list[Any]]]]) -> None:
    """Run the statements in the transaction just begun, and commit; roll back on error."""
    sql = "COMMIT"
    try:
        for sql, parameters in statements:
            connection.executemany(sql, parameters)
        sql = "COMMIT"
        connection.execute(sql)
    except BaseException as error:
        connection.rollback()
        if isinstance(error, sqlite3.Error):
            raise _translated(error, sql) from error
        raise


def _translated(error: Exception, statement: str) -> StatementError:
    """The driver's error as SQLAlchemy's engine raises it (IntegrityError, …), rows hidden."""
    base = sqlite3.Error if isinstance(error, sqlite3.Error) else psycopg.Error
    return DBAPIError.instance(statement, None, error, base, hide_parameters=True)


@functools.lru_cache(maxsize=64)  # one engine (dialect) per server, two tables
def _sqlite_statement(table: Table, columns: tuple[str, ...], dialect: Dialect) -> _SqliteStatement:
    return _SqliteStatement(table, columns, dialect)


@functools.cache
def _postgres_statement(task_columns: tuple[str, ...], run_columns: tuple[str, ...]) -> str:
    """Both tables' rows in one statement, each table's as one JSON array of objects.

    Whatever the batch's size, it is the same statement (psycopg prepares it once), its
    parameters two strings that json.dumps makes in C, and one round trip commits it. The
    tasks' insert is a data-modifying CTE; the runs' foreign keys are checked at the end of
    the statement, when the tasks are there.
    """

    def select(table: Table, columns: tuple[str, ...]) -> str:
        # The table's own column names (checked by _columns), nothing a client sent.
        names, rows = ", ".join(columns), f"%({table.name})s::json"
        source = f"json_populate_recordset(NULL::{table.name}, {rows})"
        return f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {source}"  # noqa: S608

    return f"WITH new_tasks AS ({select(TASKS, task_columns)}) {select(RUNS, run_columns)}"


def _json_value(value: object) -> str:
    # Only timestamps are not JSON already; PostgreSQL reads ISO 8601 with its offset.
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


_encode = json.JSONEncoder(ensure_ascii=False, default=_json_value).encode


class PostgresBatches:
    """PostgreSQL: one statement per batch, committed on its own, on psycopg's asyncio."""

    # Two batches in flight: one is sent while the other's commit waits for the disk.
    connections = 2

    def __init__(self, url: str) -> None:
        self._url = libpq_url(url)
        # Connections are kept between batches (a pool's checkout, ping and reset were a
        # tenth of a submission's CPU). Each statement is its own transaction (autocommit):
        # no BEGIN or COMMIT to send.
        self._idle: list[psycopg.AsyncConnection[Any]] = []

    async def insert(self, tasks: Rows, runs: Rows) -> None:
        """Commit the rows in one statement, on a new connection if a kept one died."""
        statement = _postgres_statement(_columns(TASKS, tasks), _columns(RUNS, runs))
        parameters = {TASKS.name: _encode(tasks), RUNS.name: _encode(runs)}
        connection = None
        try:
            connection = self._idle.pop() if self._idle else await self._connect()
            try:
                await connection.execute(statement, parameters)
            except psycopg.OperationalError:
                if not connection.broken:
                    raise
                # Dead since its last batch (a database restart, an idle timeout): nothing
                # was written. Ids are the client's own: should the statement have been
                # committed after all, the retry fails as a duplicate.
                await connection.close()
                connection = await self._connect()
                await connection.execute(statement, parameters)
        except psycopg.Error as error:
            raise _translated(error, statement) from error
        finally:
            if connection is not None and not connection.closed:
                self._idle.append(connection)

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(self._url, autocommit=True)

    async def close(self) -> None:
        """Close the connections."""
        while self._idle:
            await self._idle.pop().close()
