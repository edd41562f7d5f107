"""A throwaway PostgreSQL database per test session, on the server CI provides."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from tests.support.host import require

ADMIN_URL = os.environ.get("PYJOBS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_unavailable() -> str | None:
    """Why PostgreSQL cannot be used here, or None if it can."""
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"PostgreSQL at {ADMIN_URL} is not reachable: {error}".splitlines()[0]


@contextmanager
def fresh_database() -> Iterator[str]:
    """Create an empty database, yield its SQLAlchemy URL, drop it afterwards."""
    name = f"pyjobs_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def database_of(kind: str, tmp_path: Path) -> Iterator[str]:
    """A URL of a new database: `sqlite` in `tmp_path`, or a fresh `postgresql` one
    (required in CI, the test skipped elsewhere when PostgreSQL is missing)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'pyjobs.db'}"
        return
    reason = postgres_unavailable()
    require(reason is None, str(reason))
    with fresh_database() as url:
        yield url
