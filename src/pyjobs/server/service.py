"""The use cases of the task service; routes only translate HTTP to and from these."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from anyio import to_thread
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from pyjobs.config import Backend, Settings
from pyjobs.errors import ConflictError, NotFoundError
from pyjobs.executors.runlog import log_dir
from pyjobs.manifests import RunRef, render_yaml
from pyjobs.manifests.reading import generate_workflow_name
from pyjobs.server.db.engine import Database
from pyjobs.server.db.models import Run, Task
from pyjobs.server.dispatcher import Dispatcher
from pyjobs.server.ids import new_id
from pyjobs.server.metrics import METRICS
from pyjobs.server.queries import tasks_page
from pyjobs.server.schemas import Page, SubmitResponse, TaskOut, TaskSummary, title_of
from pyjobs.server.writer import SubmitWriter
from pyjobs.spec import TaskSpec
from pyjobs.status import FailureReason, RunStatus

MAX_PAGE = 500
CANCEL_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class Principal:
    """Who is asking: a token (or nobody, on a loopback-only server without tokens)."""

    token_id: str | None
    admin: bool

    def may_see(self, task: Task) -> bool:
        """Admins see every task; others only their own."""
        return self.admin or task.owner_id == self.token_id


def _now() -> datetime:
    return datetime.now(UTC)


class TaskService:
    """Submit, inspect, follow, cancel, re-run and delete tasks."""

    def __init__(
        self, settings: Settings, database: Database, dispatcher: Dispatcher, writer: SubmitWriter
    ) -> None:
        self.settings = settings
        self.db = database
        self.dispatcher = dispatcher
        self.writer = writer
        self.workflows = dispatcher.workflows

    # -- writing -------------------------------------------------------------------------

    async def submit(
        self, principal: Principal, spec: TaskSpec, idempotency_key: str | None = None
    ) -> SubmitResponse:
        """Store the task and its first run; answer only once both are committed."""
        scoped_key = None
        if idempotency_key is not None:
            scoped_key = f"{principal.token_id or '-'}:{idempotency_key}"
            existing = await to_thread.run_sync(self._by_idempotency_key, scoped_key)
            if existing is not None:
                return existing
        task_id, now = new_id(), _now()
        run = self._new_run(task_id, 1, spec, now)
        task = {
            "id": task_id,
            "owner_id": principal.token_id,
            "spec": run["spec"],  # the same snapshot: dumped once
            "status": RunStatus.PENDING,
            "latest_run": 1,
            "idempotency_key": scoped_key,
            "created_at": now,
        }
        try:
            # The writer stores both rows and wakes the dispatcher once its batch is committed.
            await self.writer.store(task, run)
        except IntegrityError:
            # Another request with the same key won the race: answer with its task.
            if scoped_key is not None:
                existing = await to_thread.run_sync(self._by_idempotency_key, scoped_key)
                if existing is not None:
                    return existing
            raise
        METRICS.submissions.inc()
        return SubmitResponse(
            id=task_id, run_number=1, workflow_id=run["workflow_name"], status=RunStatus.PENDING
        )

    def rerun(self, principal: Principal, task_id: str) -> SubmitResponse:
        """Start a new run of the task with a fresh snapshot; 409 while one is active."""
        now = _now()
        try:
            with self.db.session() as session:
                task = self._task(session, principal, task_id, lock=True)
                if not RunStatus(task.status).is_final:
                    raise ConflictError(
                        f"task {task_id} has an active run ({task.status}); cancel it first"
                    )
                number = task.latest_run + 1
                run = Run(**self._new_run(task_id, number, TaskSpec.model_validate(task.spec), now))
                session.add(run)
                task.latest_run, task.status = number, RunStatus.PENDING
        except IntegrityError:
            raise ConflictError(f"task {task_id} was re-run concurrently") from None
        self.dispatcher.wake()
        return SubmitResponse(
            id=task_id,
            run_number=number,
            workflow_id=run.workflow_name,
            status=RunStatus.PENDING,
        )

    def cancel(self, principal: Principal, task_id: str) -> TaskOut:
        """Cancel the task's active run, wherever it is; a no-op once it has ended."""
        with self.db.session() as session:
            task = self._task(session, principal, task_id, lock=True)
            run = self._latest(task)
            if RunStatus(run.status).is_final:
                return self._task_out(task)
            run_id = run.id
            session.execute(
                update(Run)
                .where(Run.id == run_id)
                .values(cancel_requested=True)
                .execution_options(synchronize_session=False)
            )
            # An Argo workflow that exists is stopped by the server that re-attaches to it.
            created_elsewhere = Backend(run.backend).runs_outlive_server and run.workflow_name
            if not created_elsewhere and _end_if_unclaimed(session, run):
                if task.latest_run == run.number:
                    task.status = RunStatus.CANCELLED
                METRICS.finished(run)
        self.dispatcher.cancel(run_id)
        # Killing a process tree takes a moment: answer with the ended run when it is quick.
        self.dispatcher.wait_ended(run_id, timeout=CANCEL_WAIT_SECONDS)
        return self.get(principal, task_id)

    def delete(self, principal: Principal, task_id: str) -> None:
        """Delete the task, its runs and their logs; an active run is cancelled first."""
        with self.db.reader() as session:
            task = self._task(session, principal, task_id)
            run_ids = [run.id for run in task.runs]
        active = self.get(principal, task_id)
        if not active.status.is_final:
            self.cancel(principal, task_id)
            self.dispatcher.wait_ended(run_ids[-1], timeout=15)
        with self.db.session() as session:
            session.execute(delete(Run).where(Run.task_id == task_id))
            session.execute(delete(Task).where(Task.id == task_id))
        for run_id in run_ids:
            shutil.rmtree(log_dir(self.settings.home_dir, run_id), ignore_errors=True)

    # -- reading -------------------------------------------------------------------------

    def get(self, principal: Principal, task_id: str) -> TaskOut:
        """The task with every run."""
        with self.db.reader() as session:
            return self._task_out(self._task(session, principal, task_id))

    def list(
        self, principal: Principal, status: RunStatus | None, limit: int, cursor: str | None
    ) -> Page[TaskSummary]:
        """Newest first, `limit` at a time; keyset pagination on the time-ordered id."""
        query = tasks_page(
            owner_id=principal.token_id,
            every_owner=principal.admin,
            status=status,
            limit=min(limit, MAX_PAGE) + 1,  # one more: is there a next page?
            cursor=cursor,
        )
        with self.db.reader() as session:
            tasks = list(session.scalars(query))
        page, more = tasks[:limit], len(tasks) > limit
        data = [
            TaskSummary(
                id=t.id,
                status=RunStatus(t.status),
                latest_run=t.latest_run,
                created_at=t.created_at,
                title=title_of(t.spec["python_code"]),
                dependencies=t.spec.get("dependencies", []),
            )
            for t in page
        ]
        return Page[TaskSummary](data=data, next_cursor=page[-1].id if more and page else None)

    def run_of(self, principal: Principal, task_id: str, number: int | None) -> Run:
        """One run of the task (default the latest), detached from its session."""
        with self.db.reader() as session:
            task = self._task(session, principal, task_id)
            wanted = number or task.latest_run
            run = next((r for r in task.runs if r.number == wanted), None)
            if run is None:
                raise NotFoundError("run", f"{task_id}/{wanted}")
            session.expunge(run)
            return run

    def run_status(self, run_id: str) -> RunStatus | None:
        """The status of a run by id (None once deleted); for log followers."""
        with self.db.reader() as session:
            status = session.scalar(select(Run.status).where(Run.id == run_id))
        return None if status is None else RunStatus(status)

    def manifest(self, principal: Principal, task_id: str, number: int | None) -> str:
        """The Argo Workflow YAML the run used."""
        run = self.run_of(principal, task_id, number)
        if run.manifest is None:
            # Never handed over (queued, or cancelled first): the workflow it would get.
            return render_yaml(
                self.workflows.build(TaskSpec.model_validate(run.spec), RunRef(task_id, run.number))
            )
        return render_yaml(run.manifest)

    def preview(self, spec: TaskSpec) -> str:
        """The Argo Workflow YAML a submit would produce, without storing anything."""
        return render_yaml(self.workflows.build(spec))

    # -- helpers -------------------------------------------------------------------------

    def _new_run(self, task_id: str, number: int, spec: TaskSpec, now: datetime) -> dict[str, Any]:
        """The columns of a new pending run; the dispatcher builds its workflow at hand-over."""
        local = self.settings.backend is Backend.LOCAL
        return {
            "id": new_id(),
            "task_id": task_id,
            "number": number,
            "spec": _dump(spec),
            "backend": self.settings.backend.value,
            "status": RunStatus.PENDING,
            "message": "",
            "manifest": None,
            "limits": [],
            "cancel_requested": False,
            "created_at": now,
            # Locally pyjobs plays the API server's part and names the workflow at once;
            # Argo names it (generateName) when the run is handed over.
            "workflow_name": generate_workflow_name() if local else None,
        }

    def _task(
        self, session: Session, principal: Principal, task_id: str, lock: bool = False
    ) -> Task:
        query = select(Task).where(Task.id == task_id).options(selectinload(Task.runs))
        if lock:
            query = query.with_for_update()
        task = session.scalar(query)
        # Another owner's task is reported exactly like a missing one.
        if task is None or not principal.may_see(task):
            raise NotFoundError("task", task_id)
        return task

    def _latest(self, task: Task) -> Run:
        return next(r for r in task.runs if r.number == task.latest_run)

    def _task_out(self, task: Task) -> TaskOut:
        return TaskOut.model_validate(task)

    def _by_idempotency_key(self, scoped_key: str) -> SubmitResponse | None:
        with self.db.reader() as session:
            task = session.scalar(
                select(Task)
                .where(Task.idempotency_key == scoped_key)
                .options(selectinload(Task.runs))
            )
            if task is None:
                return None
            first = task.runs[0]
            return SubmitResponse(
                id=task.id,
                run_number=first.number,
                workflow_id=first.workflow_name,
                status=RunStatus(first.status),
            )


def _dump(spec: TaskSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json")


def _end_if_unclaimed(session: Session, run: Run) -> bool:
    """Cancel a run that nobody has claimed: it never starts. False if it was claimed.

    The database decides, not what this session read before: a dispatcher may have
    claimed the run since, and then it must be stopped where it runs, not marked here.
    """
    ended = session.scalar(
        update(Run)
        .where(Run.id == run.id, Run.status == RunStatus.PENDING, Run.claimed_by.is_(None))
        .values(
            status=RunStatus.CANCELLED,
            reason=FailureReason.CANCELLED,
            message="cancelled before it started",
            finished_at=_now(),
        )
        .returning(Run.id)
        .execution_options(synchronize_session=False)
    )
    if ended is None:
        return False
    session.refresh(run)  # the ended row, for the caller's task status and metrics
    return True
