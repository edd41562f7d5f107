"""Queries that must stay fast on a large table, in one place so their plans can be checked."""

from __future__ import annotations

from sqlalchemy import Select, select

from pyjobs.server.db.models import Task
from pyjobs.status import RunStatus


def tasks_page(
    *,
    owner_id: str | None,
    every_owner: bool,
    status: RunStatus | None,
    limit: int,
    cursor: str | None,
) -> Select[Task]:
    """One page of tasks, newest first: keyset pagination on the time-ordered id.

    Each filter has an index whose last column is the id (`ix_tasks_owner_id_id`,
    `ix_tasks_status_id`), so a page is an index range read backwards, never a sort.
    """
    query = select(Task).order_by(Task.id.desc()).limit(limit)
    if not every_owner:
        query = query.where(Task.owner_id == owner_id)
    if status is not None:
        query = query.where(Task.status == status)
    if cursor:
        query = query.where(Task.id < cursor)
    return query
