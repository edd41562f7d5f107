"""Server instances: who is alive, and what happens to the runs of those that died."""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from pyjobs.config import Backend
from pyjobs.server.db.engine import Database
from pyjobs.server.db.models import Instance, Run
from pyjobs.server.ids import new_id
from pyjobs.server.runrecords import finish_run
from pyjobs.status import FailureReason, RunStatus

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
# An instance silent for this long is dead, wherever it ran.
DEAD_AFTER = timedelta(seconds=30)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def register(database: Database, backend: str) -> str:
    """Record this process as a live instance; returns its id."""
    now = datetime.now(UTC)
    instance_id = new_id()
    with database.session() as session:
        session.add(
            Instance(
                id=instance_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                backend=backend,
                started_at=now,
                heartbeat_at=now,
            )
        )
    return instance_id


def heartbeat(database: Database, instance_id: str) -> None:
    """Say this instance is still alive."""
    with database.session() as session:
        session.execute(
            update(Instance)
            .where(Instance.id == instance_id)
            .values(heartbeat_at=datetime.now(UTC))
        )


def unregister(database: Database, instance_id: str) -> None:
    """Forget this instance (after a clean shutdown)."""
    with database.session() as session:
        session.execute(update(Run).where(Run.claimed_by == instance_id).values(claimed_by=None))
        session.execute(delete(Instance).where(Instance.id == instance_id))


def _outlives(run: Run) -> bool:
    """Whether the run's work goes on without its server (a workflow created on Argo)."""
    try:
        backend = Backend(run.backend)
    except ValueError:
        return False
    return backend.runs_outlive_server and bool(run.workflow_name)


def reconcile_dead(database: Database, me: str) -> int:
    """Settle the runs of dead instances; returns how many runs were touched.

    Dead: silent for DEAD_AFTER, or on this host with its process gone (a server restarted
    after kill -9 need not wait). Their queued runs go back to the queue. Their local runs
    in flight were children of the dead process (the sandbox dies with its parent), so they
    failed with reason `server_restart`; their Argo workflows go on in the cluster, so
    those runs are only released, and a live server re-attaches to them (and stops them if
    a cancel was asked for meanwhile).
    """
    now, host = datetime.now(UTC), socket.gethostname()
    touched = 0
    with database.session() as session:
        instances = session.scalars(select(Instance).where(Instance.id != me)).all()
        dead = [
            i.id
            for i in instances
            if now - i.heartbeat_at > DEAD_AFTER or (i.host == host and not _pid_alive(i.pid))
        ]
        if not dead:
            return 0
        runs = session.scalars(select(Run).where(Run.claimed_by.in_(dead)).with_for_update()).all()
        for run in runs:
            touched += 1
            run.claimed_by = None
            if _outlives(run) and not RunStatus(run.status).is_final:
                continue
            if run.cancel_requested:
                finish_run(
                    session,
                    run,
                    RunStatus.CANCELLED,
                    FailureReason.CANCELLED,
                    "cancelled; the server running it stopped",
                )
            elif run.status == RunStatus.RUNNING:
                finish_run(
                    session,
                    run,
                    RunStatus.FAILED,
                    FailureReason.SERVER_RESTART,
                    "the server running it stopped before it finished",
                )
        session.execute(delete(Instance).where(Instance.id.in_(dead)))
    if touched:
        logger.warning("settled %d runs of %d dead server instances", touched, len(dead))
    return touched
