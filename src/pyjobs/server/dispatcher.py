"""The dispatcher: claims pending runs from the database and hands them to the executor.

Claims are row updates under `FOR UPDATE SKIP LOCKED` (PostgreSQL), so several servers on
one database never start the same run twice; SQLite has a single writer, which gives the
same guarantee. A claimed run gets its workflow built and stored here, at hand-over, not at
submit: a submit then costs a third less, and the stored manifest is what the executor got.
What the executor reports is written back as it happens.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import ColumnElement, and_, func, or_, select, update

from pyjobs.config import Backend
from pyjobs.errors import PyjobsError
from pyjobs.executors.base import Executor, RunRequest, RunState, StateListener
from pyjobs.manifests import RunRef, WorkflowFactory
from pyjobs.server import instances
from pyjobs.server.db.engine import Database
from pyjobs.server.db.models import Run
from pyjobs.server.metrics import METRICS
from pyjobs.server.runrecords import apply_state, finish_run
from pyjobs.spec import TaskSpec
from pyjobs.status import FailureReason, RunStatus

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
ExecutorFactory = Callable[[StateListener], Executor]


class Dispatcher:
    """Moves runs from the queue (the database) to the executor, and their states back."""

    def __init__(
        self,
        database: Database,
        make_executor: ExecutorFactory,
        workflows: WorkflowFactory,
        *,
        capacity: int,
        backend: str,
        dispatch: bool = True,
        shutdown_grace: float = 10.0,
    ) -> None:
        self.db = database
        self.workflows = workflows
        self.capacity = capacity
        # Off: runs are accepted and stored but wait; the loop still heartbeats and reconciles.
        self.dispatch = dispatch
        self.backend = backend
        self.shutdown_grace = shutdown_grace
        # Argo's workflows go on without us: their runs are re-attached, never failed.
        self.outlives = Backend(backend).runs_outlive_server
        self.instance_id = ""
        self._executor = make_executor(self._on_state)
        self._mine: set[str] = set()  # runs handed to our executor and not yet ended
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._shutting_down = False
        self._thread: threading.Thread | None = None

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Register this instance, settle dead ones' runs, start the loop."""
        self.instance_id = instances.register(self.db, self.backend)
        instances.reconcile_dead(self.db, self.instance_id)
        if not self.dispatch:
            logger.warning("PYJOBS_DISPATCH=false: runs are accepted and stored, not started")
        METRICS.bind_queue(
            lambda: self._count(RunStatus.PENDING), lambda: self._count(RunStatus.RUNNING)
        )
        self._thread = threading.Thread(target=self._loop, name="pyjobs-dispatcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop claiming; give runs in flight a grace period, then end them consistently."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        deadline = time.monotonic() + self.shutdown_grace
        for run_id in [] if self.outlives else self._active():
            self._executor.wait(run_id, max(0.0, deadline - time.monotonic()))
        queued = self._queued()
        with self.db.session() as session:
            # Claimed but never started: put back, for this server's next start or another.
            session.execute(update(Run).where(Run.id.in_(queued)).values(claimed_by=None))
        self._shutting_down = True
        self._executor.close()  # cancels what still runs; _on_state records server_restart
        instances.unregister(self.db, self.instance_id)

    def ready(self) -> bool:
        """Whether the loop is alive (for /readyz)."""
        return self._thread is not None and self._thread.is_alive()

    # -- what the service asks -----------------------------------------------------------

    def wake(self) -> None:
        """A run was queued: look now instead of at the next poll."""
        if self.dispatch:
            self._wake.set()

    def cancel(self, run_id: str) -> None:
        """Cancel a run if this instance runs it (others see `cancel_requested`)."""
        if run_id in self._active():
            self._executor.cancel(run_id)

    def wait_ended(self, run_id: str, timeout: float) -> None:
        """Wait (bounded) for a run to reach a final status, wherever it runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.db.reader() as session:
                status = session.scalar(select(Run.status).where(Run.id == run_id))
            if status is None or RunStatus(status).is_final:
                if run_id in self._active():
                    self._executor.wait(run_id, max(0.0, deadline - time.monotonic()))
                return
            time.sleep(0.1)

    # -- the loop ------------------------------------------------------------------------

    def _loop(self) -> None:
        last_beat = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() - last_beat >= instances.HEARTBEAT_SECONDS:
                    instances.heartbeat(self.db, self.instance_id)
                    instances.reconcile_dead(self.db, self.instance_id)
                    self._cancel_requested_elsewhere()
                    last_beat = time.monotonic()
                self._claim_and_start()
            except Exception:  # the loop must outlive a database hiccup
                logger.exception("dispatcher iteration failed; retrying")
                self._stop.wait(POLL_SECONDS)
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()

    def _claimable(self) -> ColumnElement[bool]:
        """Runs nobody follows: queued ones and, on Argo, those whose workflow exists."""
        queued = and_(Run.status == RunStatus.PENDING, Run.cancel_requested.is_(False))
        if self.outlives:
            # Created in Argo by a server that stopped or died: follow it again.
            created = and_(
                Run.status.in_([RunStatus.PENDING, RunStatus.RUNNING]),
                Run.workflow_name.is_not(None),
            )
            queued = or_(queued, created)
        return and_(Run.backend == self.backend, Run.claimed_by.is_(None), queued)

    def _claim_and_start(self) -> None:
        if not self.dispatch:
            return
        free = self.capacity - len(self._active())
        if free <= 0:
            return
        waiting = (
            select(Run.id)
            .where(self._claimable())
            .order_by(Run.id)
            .limit(free)
            .with_for_update(skip_locked=True)
        )
        with self.db.session() as session:
            claimed = list(
                session.scalars(
                    update(Run)
                    .where(Run.id.in_(waiting.scalar_subquery()))
                    .values(claimed_by=self.instance_id)
                    .returning(Run.id)
                )
            )
        if not claimed:
            return
        requests, unbuildable = [], []
        with self.db.session() as session:
            runs = session.scalars(select(Run).where(Run.id.in_(claimed)).order_by(Run.id)).all()
            for run in runs:
                try:
                    request = self._request(run)
                except Exception as error:  # a builder bug fails this run, not the loop
                    logger.exception("could not build the workflow of run %s", run.id)
                    unbuildable.append((run.id, f"could not build the workflow: {error}"))
                    continue
                attach = self.outlives and run.workflow_name is not None
                requests.append((request, attach, run.cancel_requested))
        for run_id, message in unbuildable:
            self._backend_failed(run_id, message)
        for request, attach, cancel in requests:
            with self._lock:
                self._mine.add(request.run_id)
            try:
                if attach:
                    logger.info("re-attaching run %s (%s)", request.run_id, request.workflow_name)
                    self._executor.attach(request)
                else:
                    self._executor.submit(request)
                if cancel:  # asked while no server followed it
                    self._executor.cancel(request.run_id)
            except Exception as error:
                logger.exception("executor refused run %s", request.run_id)
                self._backend_failed(request.run_id, str(error))

    def _request(self, run: Run) -> RunRequest:
        """What the executor gets; a run's first hand-over builds and stores its workflow."""
        spec = TaskSpec.model_validate(run.spec)
        manifest = run.manifest  # a run put back (or re-attached) keeps the one it had
        if manifest is None:
            manifest = self.workflows.build(spec, RunRef(run.task_id, run.number))
            run.manifest = manifest
        return RunRequest(run.id, spec, manifest, run.workflow_name)

    def _cancel_requested_elsewhere(self) -> None:
        mine = self._active()
        if not mine:
            return
        with self.db.reader() as session:
            wanted = session.scalars(
                select(Run.id).where(Run.id.in_(mine), Run.cancel_requested.is_(True))
            ).all()
        for run_id in wanted:
            self._executor.cancel(run_id)

    # -- what the executor reports -------------------------------------------------------

    def _on_state(self, state: RunState) -> None:
        if (
            state.env_cache_hit is not None
            and state.setup_seconds is not None
            and (state.status is RunStatus.RUNNING)
        ):
            METRICS.setup_done(state.env_cache_hit, state.setup_seconds)
        try:
            with self.db.session() as session:
                run = apply_state(session, state, self._shutting_down)
        except Exception:
            logger.exception("could not record the state of run %s", state.run_id)
            return
        if run is None and not state.status.is_final:
            # The task was deleted while its run was still going: stop it.
            self._executor.cancel(state.run_id)
        if state.status.is_final:
            with self._lock:
                self._mine.discard(state.run_id)
            self._wake.set()  # a slot is free

    def _backend_failed(self, run_id: str, message: str) -> None:
        with self._lock:
            self._mine.discard(run_id)
        with self.db.session() as session:
            run = session.get(Run, run_id)
            if run is not None:
                finish_run(session, run, RunStatus.FAILED, FailureReason.BACKEND_ERROR, message)

    def _queued(self) -> list[str]:
        """Runs handed to the executor that have not started yet."""
        queued = []
        for run_id in self._active():
            try:
                if self._executor.state(run_id).status is RunStatus.PENDING:
                    queued.append(run_id)
            except PyjobsError:
                continue
        return queued

    def _active(self) -> list[str]:
        with self._lock:
            return list(self._mine)

    def _count(self, status: RunStatus) -> float:
        with self.db.reader() as session:
            count = session.scalar(
                select(func.count()).select_from(Run).where(Run.status == status)
            )
            return float(count or 0)
