"""Run records under concurrent reports: no status change is lost, on either database."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from pyjobs.executors.base import RunState
from pyjobs.server.db.engine import Database
from pyjobs.server.db.models import Run, Task
from pyjobs.server.db.upgrade import upgrade
from pyjobs.server.ids import new_id
from pyjobs.server.runrecords import apply_state
from pyjobs.status import FailureReason, RunStatus

ROUNDS = 60


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated database of its own (SQLite and PostgreSQL)."""
    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()


def _pending_run(database: Database) -> str:
    task_id, run_id, now = new_id(), new_id(), datetime.now(UTC)
    with database.session() as session:
        session.add(
            Task(id=task_id, spec={}, status=RunStatus.PENDING, latest_run=1, created_at=now)
        )
        session.flush()
        session.add(
            Run(
                id=run_id,
                task_id=task_id,
                number=1,
                spec={},
                backend="local",
                status=RunStatus.PENDING,
                message="",
                limits=[],
                cancel_requested=False,
                created_at=now,
            )
        )
    return run_id


def test_a_late_report_never_undoes_the_final_one_on_the_task(database: Database) -> None:
    """The executor's "pending" (from the dispatcher's thread) racing its "cancelled".

    Before SQLite transactions began IMMEDIATE, the late report read the run before the
    cancel committed and its task after, and wrote `pending` back onto the task: a third
    of these rounds left a cancelled run under a task that showed `pending` for ever.
    """
    lost = []
    for _ in range(ROUNDS):
        run_id = _pending_run(database)
        reports = [
            RunState(run_id, "python-job-abcde"),
            RunState(
                run_id,
                "python-job-abcde",
                status=RunStatus.CANCELLED,
                reason=FailureReason.CANCELLED,
                finished_at=time.time(),
            ),
        ]
        start = threading.Barrier(len(reports))
        errors: list[BaseException] = []
        threads = [
            threading.Thread(target=_report, args=(database, state, start, errors))
            for state in reports
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with database.reader() as session:
            run = session.get(Run, run_id)
            assert run is not None
            task = session.get(Task, run.task_id)
            assert task is not None
            assert run.status == RunStatus.CANCELLED
            if task.status != run.status:
                lost.append(run_id)
    assert lost == []


def _report(
    database: Database, state: RunState, start: threading.Barrier, errors: list[BaseException]
) -> None:
    """Record one executor report, as the dispatcher does, the moment the other one is."""
    start.wait()
    try:
        with database.session() as session:
            apply_state(session, state)
    except BaseException as error:  # the test thread asserts there was none
        errors.append(error)
