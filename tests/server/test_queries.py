"""Listing pages are index range reads, never a scan and a sort, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, Select, text

from pyjobs.server.db.engine import Database
from pyjobs.server.db.upgrade import upgrade
from pyjobs.server.queries import tasks_page
from pyjobs.status import RunStatus

CURSOR = "01m8k0000000000000000000zz"


def _plan(connection: Connection, query: Select[object]) -> str:
    sql = str(query.compile(connection, compile_kwargs={"literal_binds": True}))
    if connection.dialect.name == "sqlite":
        rows = connection.execute(text(f"EXPLAIN QUERY PLAN {sql}")).all()
    else:
        # An empty table makes a sequential scan cheapest: forbid it, to see whether an
        # index can deliver the order (if none could, a Sort node would appear).
        connection.execute(text("SET enable_seqscan = off"))
        connection.execute(text("SET enable_bitmapscan = off"))
        rows = connection.execute(text(f"EXPLAIN {sql}")).all()
    return "\n".join(str(row[-1]) for row in rows)


@pytest.mark.parametrize("status", [None, RunStatus.FAILED])
@pytest.mark.parametrize("cursor", [None, CURSOR])
@pytest.mark.parametrize("every_owner", [True, False])
def test_every_listing_query_reads_an_index_in_order(
    database_url: str, status: RunStatus | None, cursor: str | None, every_owner: bool
) -> None:
    database = Database(database_url)
    try:
        upgrade(database)
        query = tasks_page(
            owner_id="someone", every_owner=every_owner, status=status, limit=51, cursor=cursor
        )
        with database.engine.connect() as connection:
            plan = _plan(connection, query)
    finally:
        database.dispose()
    if database.dialect == "sqlite":
        assert "TEMP B-TREE" not in plan, plan
        assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
        if cursor or status or not every_owner:
            assert "SEARCH" in plan, plan  # a range of the index, not all of it
    else:
        assert "Sort" not in plan, plan
        assert "Index Scan" in plan, plan
    if status or not every_owner:
        # The filter's own (column, id) index, not the id index filtered row by row.
        assert "ix_tasks_status_id" in plan or "ix_tasks_owner_id_id" in plan, plan
