"""Group commit: submissions are stored many per transaction, from the event loop.

Requests queue their prepared rows and await a future; a flush takes whatever is queued
(up to `max_batch`), inserts it in one transaction, and only then resolves the futures, so
a 201 still means "committed". What queues while a batch commits joins the next one, so
the commit's cost is shared by the whole batch and SQLite never sees submissions contend
for its write lock. As many flushes run at once as the inserter has connections: on
PostgreSQL a second batch is sent while the first one's commit is still on its way, so the
server is not left idle waiting for the database's disk.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy.exc import IntegrityError

from pyjobs.errors import ShuttingDownError
from pyjobs.server.db.batchinsert import BatchInserter

logger = logging.getLogger(__name__)

MAX_BATCH = 256


@dataclass(frozen=True)
class _Pending:
    """One submission waiting for its commit: its rows and its waiter."""

    task: dict[str, Any]
    run: dict[str, Any]
    future: asyncio.Future[None]


class SubmitWriter:
    """The one writer of new tasks and their first runs (used from one event loop)."""

    def __init__(
        self,
        inserter: BatchInserter,
        on_commit: Callable[[], None],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.inserter = inserter
        self.on_commit = on_commit
        self.max_batch = max_batch
        self._queue: list[_Pending] = []
        self._flushes: set[asyncio.Task[None]] = set()
        self._open = False

    def start(self) -> None:
        """Take submissions."""
        self._open = True

    async def stop(self) -> None:
        """Refuse new submissions, commit those queued, and close the connections."""
        self._open = False
        while self._flushes:
            await asyncio.wait(self._flushes)
        await self.inserter.close()

    async def store(self, task: dict[str, Any], run: dict[str, Any]) -> None:
        """Return once the task and its run are committed."""
        if not self._open:
            raise ShuttingDownError("the server is shutting down and takes no submissions")
        future = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(task, run, future))
        if len(self._flushes) < self.inserter.connections:
            flush = asyncio.create_task(self._flush())
            self._flushes.add(flush)
            flush.add_done_callback(self._flushes.discard)  # also if cancelled unstarted
        await future

    async def _flush(self) -> None:
        try:
            # One turn of the loop first: the requests already parsed join this batch.
            await asyncio.sleep(0)
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                await self._write(batch)
        finally:
            # Now, not in the task's done callback: a request the loop runs before that
            # callback would find no free flush, and its row would wait for the next one.
            self._flushes.discard(cast(asyncio.Task[None], asyncio.current_task()))

    async def _write(self, batch: list[_Pending]) -> None:
        """Store the batch in one transaction; row by row when one row breaks it."""
        try:
            await self.inserter.insert([p.task for p in batch], [p.run for p in batch])
        except IntegrityError:
            # Most likely a reused Idempotency-Key: it must not fail its neighbours.
            await self._write_each(batch)
            return
        except Exception as error:  # every waiter gets the error; the writer lives on
            logger.exception("storing %d submissions failed", len(batch))
            for pending in batch:
                _settle(pending, error)
            return
        self._commit_done()
        for pending in batch:
            _settle(pending, None)

    async def _write_each(self, batch: list[_Pending]) -> None:
        outcomes: list[BaseException | None] = []
        for pending in batch:
            try:
                await self.inserter.insert([pending.task], [pending.run])
                outcomes.append(None)
            except Exception as error:  # this row's own answer: 500, or its duplicate's task
                outcomes.append(error)
        if any(outcome is None for outcome in outcomes):
            self._commit_done()
        for pending, outcome in zip(batch, outcomes, strict=True):
            _settle(pending, outcome)

    def _commit_done(self) -> None:
        try:
            self.on_commit()
        except Exception:  # a failed wake-up must not leave requests waiting
            logger.exception("waking the dispatcher failed")


def _settle(pending: _Pending, error: BaseException | None) -> None:
    if pending.future.done():  # the request was cancelled (its client went away)
        return
    if error is None:
        pending.future.set_result(None)
    else:
        pending.future.set_exception(error)
