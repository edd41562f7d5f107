"""Migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from pyjobs.server.db.engine import Database
from pyjobs.server.db.models import Base
from pyjobs.server.db.upgrade import upgrade


def test_migrations_match_the_models(database_url: str) -> None:
    database = Database(database_url)
    try:
        upgrade(database)
        upgrade(database)  # a second upgrade is a no-op
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        tables = set(inspect(database.engine).get_table_names())
        assert {"tokens", "tasks", "runs", "instances", "alembic_version"} <= tables
    finally:
        database.dispose()


def test_upgrading_a_database_of_the_first_schema_keeps_its_rows(database_url: str) -> None:
    database = Database(database_url)
    try:
        upgrade(database, "0001")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO tasks (id, spec, status, latest_run, created_at) "
                    "VALUES ('t1', '{}', 'pending', 1, '2026-01-01 00:00:00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO runs (id, task_id, number, spec, backend, status, message, "
                    "limits, cancel_requested, created_at) VALUES ('r1', 't1', 1, '{}', "
                    "'local', 'pending', '', '[]', false, '2026-01-01 00:00:00')"
                )
            )
        upgrade(database)
        indexes = {index["name"] for index in inspect(database.engine).get_indexes("runs")}
        assert "ix_runs_task_id" not in indexes
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT task_id FROM runs")).scalar_one() == "t1"
    finally:
        database.dispose()
