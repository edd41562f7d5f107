"""Migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

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
