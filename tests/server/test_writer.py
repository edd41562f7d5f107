"""The group-commit writer: batches, duplicate keys, errors reaching waiters, shutdown,
on SQLite (written in place) and PostgreSQL (asyncio), and SQLite's lock held elsewhere."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from pyjobs.errors import ShuttingDownError
from pyjobs.server.db.batchinsert import batch_inserter
from pyjobs.server.db.engine import Database
from pyjobs.server.db.models import Run, Task
from pyjobs.server.db.upgrade import upgrade
from pyjobs.server.ids import new_id
from pyjobs.server.writer import SubmitWriter
from tests.support.postgres import database_of


@contextmanager
def _migrated(kind: str, tmp_path: Path) -> Iterator[Database]:
    with database_of(kind, tmp_path) as url:
        database = Database(url)
        upgrade(database)
        yield database
        database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database of its own, of each kind."""
    with _migrated(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite database of its own."""
    with _migrated("sqlite", tmp_path) as database:
        yield database


@pytest.fixture
def postgresql(tmp_path: Path) -> Iterator[Database]:
    """A migrated PostgreSQL database of its own."""
    with _migrated("postgresql", tmp_path) as database:
        yield database


def _rows(key: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    task_id, now = new_id(), datetime.now(UTC)
    task: dict[str, Any] = {
        "id": task_id,
        "owner_id": None,
        "spec": {},
        "status": "pending",
        "latest_run": 1,
        "idempotency_key": key,
        "created_at": now,
    }
    run: dict[str, Any] = {
        "id": new_id(),
        "task_id": task_id,
        "number": 1,
        "spec": {},
        "backend": "local",
        "status": "pending",
        "message": "",
        "manifest": {},
        "limits": [],
        "cancel_requested": False,
        "created_at": now,
        "workflow_name": None,
    }
    return task, run


def _count(database: Database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(Task)) or 0


def _writer(database: Database, on_commit: Any = lambda: None) -> SubmitWriter:
    writer = SubmitWriter(batch_inserter(database), on_commit=on_commit)
    writer.start()
    return writer


@contextmanager
def _key_held(database: Database, key: str) -> Iterator[Connection]:
    """Another session holds a task with `key`, uncommitted: inserts of the key wait for it."""
    holder = database.engine.connect()
    held_task, _ = _rows(key)
    holder.execute(insert(Task), [held_task])
    try:
        yield holder  # rollback() frees the key
    finally:
        holder.close()


def test_submissions_queued_together_commit_together(database: Database) -> None:
    commits: list[int] = []
    writer = _writer(database, on_commit=lambda: commits.append(1))

    async def scenario() -> None:
        await asyncio.gather(*(writer.store(*_rows()) for _ in range(50)))
        await writer.stop()

    asyncio.run(scenario())
    assert _count(database) == 50
    assert commits == [1]  # one transaction for the fifty


def test_a_duplicate_key_fails_only_its_own_row(database: Database) -> None:
    wakes: list[int] = []
    writer = _writer(database, on_commit=lambda: wakes.append(1))

    async def scenario() -> list[BaseException | None]:
        rows = [_rows(), _rows(), _rows("k"), _rows(), _rows("k"), _rows()]
        outcomes = await asyncio.gather(*(writer.store(*r) for r in rows), return_exceptions=True)
        await writer.stop()
        return outcomes

    outcomes = asyncio.run(scenario())
    assert [type(o) for o in outcomes].count(IntegrityError) == 1
    assert outcomes.count(None) == 5
    assert _count(database) == 5
    assert wakes


def test_a_failed_write_reaches_every_waiter_and_the_writer_lives_on(database: Database) -> None:
    writer = _writer(database)
    with database.engine.begin() as connection:
        connection.execute(text(f"ALTER TABLE {Run.__tablename__} RENAME TO runs_gone"))

    async def failing() -> list[BaseException | None]:
        stores = [writer.store(*_rows()), writer.store(*_rows())]
        return await asyncio.gather(*stores, return_exceptions=True)

    outcomes = asyncio.run(failing())
    assert all(isinstance(outcome, Exception) for outcome in outcomes), outcomes
    with database.engine.begin() as connection:
        connection.execute(text(f"ALTER TABLE runs_gone RENAME TO {Run.__tablename__}"))

    async def succeeding() -> None:
        await writer.store(*_rows())
        await writer.stop()

    asyncio.run(succeeding())
    assert _count(database) == 1


def test_stop_flushes_what_is_queued_then_refuses(database: Database) -> None:
    writer = _writer(database)

    async def scenario() -> None:
        waiting = [asyncio.ensure_future(writer.store(*_rows())) for _ in range(20)]
        await asyncio.sleep(0)  # every row is queued
        await writer.stop()
        await asyncio.gather(*waiting)
        with pytest.raises(ShuttingDownError):
            await writer.store(*_rows())

    asyncio.run(scenario())
    assert _count(database) == 20


def test_sqlite_locked_elsewhere_waits_off_the_event_loop(sqlite: Database) -> None:
    writer = _writer(sqlite)
    # Another writer holds SQLite's write lock for 0.5 s (BEGIN IMMEDIATE).
    blocker = sqlite.engine.connect()
    blocker.begin()
    release = threading.Timer(0.5, blocker.close)

    async def scenario() -> tuple[float, float]:
        started = time.monotonic()
        release.start()
        stored = asyncio.ensure_future(writer.store(*_rows()))
        # The loop keeps serving while that batch waits for the lock in a worker thread.
        await asyncio.sleep(0.05)
        ticked = time.monotonic() - started
        await stored
        await writer.stop()
        return ticked, time.monotonic() - started

    ticked, stored_after = asyncio.run(scenario())
    assert ticked < 0.4, f"the event loop was blocked for {ticked:.2f} s"
    assert stored_after >= 0.45  # it did wait for the lock, and then committed
    assert _count(sqlite) == 1


def test_a_postgresql_connection_that_died_is_replaced(postgresql: Database) -> None:
    writer = _writer(postgresql)

    async def scenario() -> None:
        await writer.store(*_rows())
        # The server ends the writer's connection (as a restart of PostgreSQL would).
        with postgresql.engine.begin() as connection:
            ended = connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).all()
        assert ended
        await writer.store(*_rows())
        await writer.stop()

    asyncio.run(scenario())
    assert _count(postgresql) == 2


def test_rows_read_back_through_the_orm_as_they_were_given(database: Database) -> None:
    task, run = _rows("clé \"quoted\" 'key' \\ ✓")
    spec = {"python_code": "print(\"ünïcode ✓ \\n\", 'x')", "env": {"A": "1"}, "network": False}
    task["spec"] = run["spec"] = spec
    task["owner_id"] = None
    run.update(manifest=None, limits=["memory"], cancel_requested=True, workflow_name="wf-x")
    writer = _writer(database)

    async def scenario() -> None:
        await writer.store(task, run)
        await writer.stop()

    asyncio.run(scenario())
    with database.reader() as session:
        stored_task = session.get(Task, task["id"])
        stored_run = session.get(Run, run["id"])
        assert stored_task is not None
        assert stored_run is not None
        for stored, given in ((stored_task, task), (stored_run, run)):
            for column, value in given.items():
                assert getattr(stored, column) == value, column
        assert stored_run.created_at.tzinfo is not None


def test_rows_without_a_column_the_orm_would_default_are_refused(database: Database) -> None:
    task, run = _rows()
    del run["message"]  # the model's default is "": a raw insert would store NULL
    writer = _writer(database)

    async def scenario() -> None:
        with pytest.raises(ValueError, match="message"):
            await writer.store(task, run)
        await writer.stop()

    asyncio.run(scenario())
    assert _count(database) == 0


def test_postgresql_commits_a_second_batch_while_the_first_waits(postgresql: Database) -> None:
    writer = _writer(postgresql)
    first_task, first_run = _rows("held")

    async def scenario(holder: Connection) -> None:
        first = asyncio.ensure_future(writer.store(first_task, first_run))
        await asyncio.sleep(0.3)
        assert not first.done()
        # The second batch goes out on the other connection and commits meanwhile.
        await asyncio.wait_for(writer.store(*_rows()), timeout=10)
        assert not first.done()
        holder.rollback()  # the key is free again: the first batch commits too
        await asyncio.wait_for(first, timeout=10)
        await writer.stop()

    # Another session holds the same key uncommitted: the first batch waits for it.
    with _key_held(postgresql, "held") as holder:
        asyncio.run(scenario(holder))
    assert _count(postgresql) == 2


def test_one_submission_after_another_from_one_task_each_commit(database: Database) -> None:
    # A request that resumes the moment its batch commits and submits again must find a
    # flush to take it, also before the loop has noticed the last one has ended.
    writer = _writer(database)

    async def one_after_another() -> None:
        for _ in range(5):
            await writer.store(*_rows())

    async def scenario() -> None:
        await asyncio.wait_for(one_after_another(), timeout=10)
        await writer.stop()

    asyncio.run(scenario())
    assert _count(database) == 5


def test_a_postgresql_insert_cancelled_in_flight_leaves_the_inserter_usable(
    postgresql: Database,
) -> None:
    inserter = batch_inserter(postgresql)

    async def scenario(holder: Connection) -> None:
        waiting = asyncio.ensure_future(inserter.insert(*([row] for row in _rows("held"))))
        await asyncio.sleep(0.3)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        holder.rollback()
        # psycopg cancels the statement on the server: the connection serves the next batch.
        await asyncio.wait_for(inserter.insert(*([row] for row in _rows())), timeout=10)
        await inserter.close()

    with _key_held(postgresql, "held") as holder:
        asyncio.run(scenario(holder))
    assert _count(postgresql) == 1
