"""Recording what happens to runs: status changes checked against the allowed transitions."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pyjobs.executors.base import RunState
from pyjobs.server.db.models import Run, Task
from pyjobs.server.metrics import METRICS
from pyjobs.status import FailureReason, RunStatus

logger = logging.getLogger(__name__)


def _when(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


def finish_run(
    session: Session, run: Run, status: RunStatus, reason: FailureReason | None, message: str
) -> None:
    """End a run that the executor never reported on (cancelled early, server restart)."""
    if not RunStatus(run.status).can_become(status):
        return
    run.status, run.reason, run.message = status, reason, message
    run.finished_at = datetime.now(UTC)
    _sync_task(session, run)
    METRICS.finished(run)


def apply_state(session: Session, state: RunState, shutting_down: bool = False) -> Run | None:
    """Copy an executor's view of a run onto its row; None when the run was deleted.

    While the server shuts down, the executor cancels what is still running; unless a
    user asked for that, the run is recorded as failed with reason `server_restart`.
    """
    run = session.scalar(select(Run).where(Run.id == state.run_id).with_for_update())
    if run is None:
        return None
    if shutting_down and state.status is RunStatus.CANCELLED and not run.cancel_requested:
        if run.status == RunStatus.PENDING:
            return run  # never started: it stays queued for the next server
        state = replace(
            state,
            status=RunStatus.FAILED,
            reason=FailureReason.SERVER_RESTART,
            message="the server shut down while the run was in flight",
        )
    current = RunStatus(run.status)
    if state.status != current:
        if not current.can_become(state.status):
            # A late report about a run already ended (e.g. cancelled before it started).
            logger.info("run %s: ignoring %s -> %s", run.id, current, state.status)
            return run
        run.status = state.status
    # Argo names the workflow only once it is created: until then the state has no name.
    run.workflow_name = state.workflow_name or run.workflow_name
    if not state.status.is_final:
        run.message = state.message  # e.g. why it still waits (Argo unreachable, unschedulable)
    run.env_cache_hit = state.env_cache_hit
    run.setup_seconds = state.setup_seconds
    run.started_at = run.started_at or _when(state.started_at)
    if state.status.is_final:
        run.reason, run.message = state.reason, state.message
        run.exit_code, run.signal = state.exit_code, state.signal
        run.run_seconds, run.limits = state.run_seconds, list(state.limits)
        run.finished_at = _when(state.finished_at) or datetime.now(UTC)
        METRICS.finished(run)
    _sync_task(session, run)
    return run


def _sync_task(session: Session, run: Run) -> None:
    """The task shows its latest run's status."""
    task = session.get(Task, run.task_id)
    if task is not None and task.latest_run == run.number:
        task.status = run.status
