"""Fixtures of the service tests: settings per database, a live server, an HTTP client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pyjobs.config import Settings
from tests.executors.conftest import require_bwrap
from tests.support.live import server_settings, server_thread
from tests.support.postgres import database_of


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test runs on SQLite and on PostgreSQL (a fresh database each time)."""
    with database_of(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path, shared_sandbox_root: Path) -> Settings:
    """Settings of a server with a private home and the session's env cache."""
    require_bwrap()
    return server_settings(tmp_path / "home", database_url, shared_sandbox_root)


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    """A live server's base URL."""
    with server_thread(settings) as url:
        yield url


@pytest.fixture
def api(server: str) -> Iterator[httpx.Client]:
    """An HTTP client of the live server, its base URL at /api/v1."""
    with httpx.Client(base_url=f"{server}/api/v1", timeout=60) as client:
        yield client
