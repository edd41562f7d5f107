"""Dispatching: off, runs are stored and wait; on, each run's workflow is built at hand-over."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select, update

from pyjobs.config import Settings
from pyjobs.manifests import RunRef, WorkflowFactory
from pyjobs.server import instances
from pyjobs.server.db.engine import Database
from pyjobs.server.db.models import Run
from pyjobs.server.dispatcher import POLL_SECONDS
from pyjobs.spec import TaskSpec
from tests.support.live import server_thread, wait_final


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
        claimed = _column(settings, Run.claimed_by)
        assert claimed == [None, None, None]  # not even claimed: another server may take them
        # Not handed over, so no workflow is stored yet; the API shows the one it will get.
        waiting = yaml.safe_load(client.get(f"/api/v1/tasks/{created[1]['id']}/manifest").text)
        assert waiting["metadata"]["labels"]["pyjobs/task-id"] == created[1]["id"]
        assert _stored_manifests(settings) == [None, None, None]
        # A waiting run can still be cancelled.
        cancelled = client.post(f"/api/v1/tasks/{created[0]['id']}/cancel").json()
        assert cancelled["status"] == "cancelled"


def test_the_workflow_is_built_at_hand_over_and_a_broken_build_fails_only_its_run(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_build = WorkflowFactory.build

    def build(self: WorkflowFactory, spec: TaskSpec, run: RunRef | None = None) -> dict[str, Any]:
        if "BREAK" in spec.python_code:
            raise RuntimeError("a builder bug")
        return real_build(self, spec, run)

    monkeypatch.setattr(WorkflowFactory, "build", build)
    with (
        server_thread(settings) as url,
        httpx.Client(base_url=f"{url}/api/v1", timeout=30) as client,
    ):
        broken, fine = (
            client.post("/tasks/submit", json={"python_code": code}).json()["id"]
            for code in ("print('BREAK')", "print(1)")
        )
        ended = {task_id: wait_final(client, task_id, 120) for task_id in (broken, fine)}
        failed = ended[broken]["runs"][0]
        assert (failed["status"], failed["reason"]) == ("failed", "backend_error")
        assert "could not build the workflow: a builder bug" in failed["message"]
        assert ended[fine]["status"] == "succeeded"
        shown = yaml.safe_load(client.get(f"/tasks/{fine}/manifest").text)
    stored = [m for m in _stored_manifests(settings) if m is not None]
    assert stored == [shown]  # what the executor got is what the API shows
    assert shown["metadata"]["labels"]["pyjobs/task-id"] == fine


def test_a_cancel_racing_another_servers_claim_leaves_the_run_to_that_server(
    settings: Settings,
) -> None:
    """The claim commits while the cancel waits: the run is that server's to stop now.

    Marking it cancelled here (what the cancel read before the claim) would let the other
    server start a run that every client already sees as cancelled.
    """
    paused = settings.model_copy(update={"dispatch": False})  # only "the other server" claims
    database = Database(settings.database)
    try:
        with (
            server_thread(paused) as url,
            httpx.Client(base_url=f"{url}/api/v1", timeout=30) as client,
        ):
            task_id = client.post("/tasks/submit", json={"python_code": "print(1)"}).json()["id"]
            other = instances.register(database, paused.backend.value)  # alive: this pid
            with database.engine.connect() as claimer:
                claim = claimer.begin()  # holds the run's row (PostgreSQL), the lock (SQLite)
                claimer.execute(update(Run).values(claimed_by=other))
                commit = threading.Timer(1.0, claim.commit)
                commit.start()
                answer = client.post(f"/tasks/{task_id}/cancel").json()
                commit.join()
        with database.reader() as session:
            run = session.scalars(select(Run)).one()
            stored = (run.status, run.claimed_by, run.cancel_requested)
    finally:
        database.dispose()
    assert answer["status"] == "pending"
    assert stored == ("pending", other, True)


def _column(settings: Settings, column: Any) -> list[Any]:
    database = Database(settings.database)
    try:
        with database.session() as session:
            return list(session.scalars(select(column).order_by(Run.id)))
    finally:
        database.dispose()


def _stored_manifests(settings: Settings) -> list[dict[str, Any] | None]:
    return _column(settings, Run.manifest)
