"""Apply Alembic migrations (`pyjobs db upgrade`, and on every `serve`)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from pyjobs.server.db.engine import Database

# Any constant: several servers starting at once on PostgreSQL take turns migrating.
_MIGRATION_LOCK = 7_316_544_201


def alembic_config(database: Database) -> Config:
    """Alembic's configuration for this database, migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", "pyjobs.server.db:migrations")
    config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema to `revision` (default the newest)."""
    config = alembic_config(database)
    with database.engine.begin() as connection:
        if database.dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
