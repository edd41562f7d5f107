"""Group commit: one thread per process stores every submission, many per transaction.

Requests enqueue their prepared rows and await a future; the writer takes whatever is
queued (up to `max_batch`), inserts the rows with one executemany per table, commits, and
only then resolves the futures, so a 201 still means "committed". SQLite thus never sees
submits contend for its write lock, and the commit's cost is shared by the whole batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from pyjobs.errors import ShuttingDownError
from pyjobs.server.db.engine import Database
from pyjobs.server.db.models import Base, Run, Task

logger = logging.getLogger(__name__)

# Core statements on the tables (not the ORM classes), compiled once and cached.
_INSERT_TASK = Base.metadata.tables[Task.__tablename__].insert()
_INSERT_RUN = Base.metadata.tables[Run.__tablename__].insert()
MAX_BATCH = 256


@dataclass(frozen=True)
class _Pending:
    """One submission waiting for its commit: its rows and whom to tell."""

    task: dict[str, Any]
    run: dict[str, Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


_STOP = object()  # the queue's last item: everything before it is flushed first


class SubmitWriter:
    """The one writer of new tasks and their first runs."""

    def __init__(
        self,
        database: Database,
        on_commit: Callable[[], None],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.db = database
        self.on_commit = on_commit
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | object] = queue.SimpleQueue()
        # Guards `_open` against the enqueue that would slip in after the stop marker.
        self._lock = threading.Lock()
        self._open = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the writer thread."""
        with self._lock:
            self._open = True
        self._thread = threading.Thread(target=self._loop, name="pyjobs-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Refuse new submissions, flush those queued, and wait for the thread to end."""
        with self._lock:
            if not self._open:
                return
            self._open = False
            self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join()

    async def store(self, task: dict[str, Any], run: dict[str, Any]) -> None:
        """Return once the task and its run are committed."""
        loop = asyncio.get_running_loop()
        pending = _Pending(task, run, loop, loop.create_future())
        with self._lock:
            if not self._open:
                raise ShuttingDownError("the server is shutting down and takes no submissions")
            self._queue.put(pending)
        await pending.future

    # -- the writer thread ---------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            batch: list[_Pending] = []
            stopping = first is _STOP
            if isinstance(first, _Pending):
                batch.append(first)
            # Whatever queued up while the previous batch committed joins this one.
            while not stopping and len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, _Pending):
                    batch.append(item)
                else:
                    stopping = True
            if batch:
                self._write(batch)
            if stopping:
                return

    def _write(self, batch: list[_Pending]) -> None:
        """Store the batch in one transaction; row by row when one row breaks it."""
        try:
            self._insert([p.task for p in batch], [p.run for p in batch])
        except IntegrityError:
            # Most likely a reused Idempotency-Key: it must not fail its neighbours.
            self._write_each(batch)
            return
        except Exception as error:  # every waiter gets the error; the writer lives on
            logger.exception("storing %d submissions failed", len(batch))
            for pending in batch:
                _settle(pending, error)
            return
        self._commit_done()
        for pending in batch:
            _settle(pending, None)

    def _write_each(self, batch: list[_Pending]) -> None:
        outcomes: list[BaseException | None] = []
        for pending in batch:
            try:
                self._insert([pending.task], [pending.run])
                outcomes.append(None)
            except Exception as error:  # this row's own answer: 500, or its duplicate's task
                outcomes.append(error)
        if any(outcome is None for outcome in outcomes):
            self._commit_done()
        for pending, outcome in zip(batch, outcomes, strict=True):
            _settle(pending, outcome)

    def _insert(self, tasks: list[dict[str, Any]], runs: list[dict[str, Any]]) -> None:
        # A bare connection, not a Session: two executemany calls need no unit of work.
        with self.db.engine.begin() as connection:
            # The tasks first: the runs refer to them.
            connection.execute(_INSERT_TASK, tasks)
            connection.execute(_INSERT_RUN, runs)

    def _commit_done(self) -> None:
        try:
            self.on_commit()
        except Exception:  # a failed wake-up must not leave requests waiting
            logger.exception("waking the dispatcher failed")


def _settle(pending: _Pending, error: BaseException | None) -> None:
    """Resolve a waiter's future from the writer thread, in its event loop."""
    # A closed loop (RuntimeError) means nobody is waiting any more.
    with contextlib.suppress(RuntimeError):
        pending.loop.call_soon_threadsafe(_resolve, pending.future, error)


def _resolve(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # the request was cancelled (its client went away)
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
