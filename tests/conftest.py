"""Fixtures shared by the whole suite."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyjobs.config import Settings
from tests.executors.conftest import require_bwrap
from tests.support.host import SANDBOX_UID, make_world_dir
from tests.support.live import server_settings, server_thread


@pytest.fixture(scope="session")
def uv_binary() -> Path:
    """The uv that `make test` installed next to the interpreter running the tests."""
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert found, "uv is not installed; run the tests through `make test`"
    return Path(found)


@pytest.fixture(scope="session")
def shared_uv_cache() -> Iterator[Path]:
    """One uv download cache for the whole session, writable by the unprivileged test uid."""
    root = Path(tempfile.mkdtemp(prefix="pyjobs-test-uv-cache-"))
    make_world_dir(root, owner=SANDBOX_UID)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def shared_sandbox_root() -> Iterator[Path]:
    """One env cache and uv cache for the whole session (reachable by the sandbox uid)."""
    with tempfile.TemporaryDirectory(prefix="pyjobs-test-sandbox-") as name:
        yield Path(name)


@pytest.fixture
def live_settings(tmp_path: Path, shared_sandbox_root: Path) -> Settings:
    """Settings of a server on SQLite with a private home (the client's tests need no more:
    the server's own tests cover PostgreSQL)."""
    require_bwrap()
    return server_settings(
        tmp_path / "home", f"sqlite:///{tmp_path / 'pyjobs.db'}", shared_sandbox_root
    )


@pytest.fixture
def live_server(live_settings: Settings) -> Iterator[str]:
    """A live server's base URL, for the Python client and the CLI's remote commands."""
    with server_thread(live_settings) as url:
        yield url
