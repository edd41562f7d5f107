"""The group-commit writer: batches, duplicate keys, errors reaching waiters, shutdown."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from pyjobs.errors import ShuttingDownError
from pyjobs.server.db.engine import Database
from pyjobs.server.db.models import Run, Task
from pyjobs.server.db.upgrade import upgrade
from pyjobs.server.ids import new_id
from pyjobs.server.writer import SubmitWriter


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite database of its own."""
    database = Database(f"sqlite:///{tmp_path / 'writer.db'}")
    upgrade(database)
    yield database
    database.dispose()


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


def test_a_duplicate_key_fails_only_its_own_row(database: Database) -> None:
    wakes: list[int] = []
    writer = SubmitWriter(database, on_commit=lambda: wakes.append(1))
    writer.start()
    # Hold SQLite's write lock so that everything after the first row queues into one batch.
    blocker = database.engine.connect()
    blocker.begin()  # a writing transaction: BEGIN IMMEDIATE
    release = threading.Timer(0.3, blocker.close)

    async def scenario() -> list[BaseException | None]:
        rows = [_rows(), _rows(), _rows("k"), _rows(), _rows("k"), _rows()]
        release.start()
        return await asyncio.gather(*(writer.store(*r) for r in rows), return_exceptions=True)

    outcomes = asyncio.run(scenario())
    writer.stop()
    assert [type(o) for o in outcomes].count(IntegrityError) == 1
    assert outcomes.count(None) == 5
    assert _count(database) == 5
    assert wakes


def test_a_failed_write_reaches_every_waiter_and_the_writer_lives_on(database: Database) -> None:
    writer = SubmitWriter(database, on_commit=lambda: None)
    writer.start()
    with database.engine.begin() as connection:
        connection.execute(text(f"ALTER TABLE {Run.__tablename__} RENAME TO runs_gone"))

    async def failing() -> BaseException | None:
        return (await asyncio.gather(writer.store(*_rows()), return_exceptions=True))[0]

    assert isinstance(asyncio.run(failing()), Exception)
    with database.engine.begin() as connection:
        connection.execute(text(f"ALTER TABLE runs_gone RENAME TO {Run.__tablename__}"))
    asyncio.run(writer.store(*_rows()))
    writer.stop()
    assert _count(database) == 1


def test_stop_flushes_what_is_queued_then_refuses(database: Database) -> None:
    writer = SubmitWriter(database, on_commit=lambda: None)
    writer.start()

    async def scenario() -> None:
        waiting = [asyncio.ensure_future(writer.store(*_rows())) for _ in range(20)]
        await asyncio.sleep(0)  # every row is queued
        await asyncio.to_thread(writer.stop)
        await asyncio.gather(*waiting)
        with pytest.raises(ShuttingDownError):
            await writer.store(*_rows())

    asyncio.run(scenario())
    assert _count(database) == 20
