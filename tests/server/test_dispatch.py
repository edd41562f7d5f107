"""PYJOBS_DISPATCH=false: runs are accepted and stored, and nothing starts them."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import select

from pyjobs.config import Settings
from pyjobs.server.db.engine import Database
from pyjobs.server.db.models import Run
from pyjobs.server.dispatcher import POLL_SECONDS
from tests.support.live import server_thread


def test_the_setting_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().dispatch is True
    monkeypatch.setenv("PYJOBS_DISPATCH", "false")
    assert Settings().dispatch is False


def test_runs_wait_while_dispatching_is_off(settings: Settings) -> None:
    paused = settings.model_copy(update={"dispatch": False})
    with server_thread(paused) as url, httpx.Client(base_url=url, timeout=30) as client:
        created = [
            client.post("/api/v1/tasks/submit", json={"python_code": f"print({n})"}).json()
            for n in range(3)
        ]
        assert client.get("/readyz").status_code == 200
        time.sleep(3 * POLL_SECONDS)  # several turns of the dispatcher's loop
        for task in created:
            assert client.get(f"/api/v1/tasks/{task['id']}").json()["status"] == "pending"
        database = Database(settings.database)
        try:
            with database.session() as session:
                claimed = session.scalars(select(Run.claimed_by)).all()
        finally:
            database.dispose()
        assert claimed == [None, None, None]  # not even claimed: another server may take them
        # A waiting run can still be cancelled.
        cancelled = client.post(f"/api/v1/tasks/{created[0]['id']}/cancel").json()
        assert cancelled["status"] == "cancelled"
