"""Nothing accepted is ever lost: kill -9 the server mid-run, start it again."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pyjobs.config import Settings
from tests.executors.helpers import processes_with, wait_until_gone
from tests.support.live import ServerProcess


@pytest.fixture
def server_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "PYJOBS_HOME": str(settings.home_dir),
        "PYJOBS_DATABASE_URL": settings.database,
        "PYJOBS_SANDBOX": "bwrap",
        "PYJOBS_SANDBOX_ROOT": str(settings.sandbox_root),
        "PYJOBS_MAX_CONCURRENT": "1",
        "PYJOBS_SHUTDOWN_GRACE_SECONDS": "1",
    }


@pytest.fixture
def process(server_env: dict[str, str], tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(server_env, tmp_path / "server.log")
    yield server
    server.stop()


def task(client: httpx.Client, task_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = client.get(f"/api/v1/tasks/{task_id}").json()
    return answer


def wait_for(predicate: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition never came true"
        time.sleep(0.1)


def test_kill_9_mid_run_loses_nothing(process: ServerProcess) -> None:
    token = f"pyjobs-restart-{time.time_ns()}"
    process.start()
    with httpx.Client(base_url=process.url, timeout=30) as client:
        # sh keeps the token in its command line, where the host can look for it.
        code = (
            "import os; print('started', flush=True); "
            f"os.execv('/bin/sh', ['sh', '-c', 'sleep 600; :', {token!r}])"
        )
        long = client.post("/api/v1/tasks/submit", json={"python_code": code}).json()
        queued = client.post("/api/v1/tasks/submit", json={"python_code": "print('second')"})
        assert queued.status_code == 201
        queued_id = queued.json()["id"]
        wait_for(lambda: "started" in client.get(f"/api/v1/tasks/{long['id']}/logs").text)
        assert task(client, queued_id)["status"] == "pending"  # max_concurrent is 1
        wait_for(lambda: processes_with(token) != [])

    process.kill()
    # The sandbox dies with its parent: nothing of the run outlives the server.
    assert wait_until_gone(token) == []

    process.start()
    with httpx.Client(base_url=process.url, timeout=30) as client:
        wait_for(lambda: task(client, long["id"])["status"] == "failed")
        run = task(client, long["id"])["runs"][0]
        assert run["reason"] == "server_restart"
        assert run["finished_at"] is not None
        # The queued run was never lost: it starts after the restart and succeeds.
        wait_for(lambda: task(client, queued_id)["status"] == "succeeded")
        assert client.get(f"/api/v1/tasks/{queued_id}/logs").text.splitlines()[-1] == "second"
        listing = client.get("/api/v1/tasks").json()["data"]
        assert {t["status"] for t in listing} == {"failed", "succeeded"}


def test_graceful_shutdown_leaves_runs_consistent(process: ServerProcess) -> None:
    process.start()
    with httpx.Client(base_url=process.url, timeout=30) as client:
        long = client.post(
            "/api/v1/tasks/submit",
            json={"python_code": "import time; print('started', flush=True); time.sleep(600)"},
        ).json()
        queued = client.post("/api/v1/tasks/submit", json={"python_code": "print('later')"})
        wait_for(lambda: "started" in client.get(f"/api/v1/tasks/{long['id']}/logs").text)
    process.stop()  # SIGTERM
    process.start()
    with httpx.Client(base_url=process.url, timeout=30) as client:
        run = task(client, long["id"])["runs"][0]
        assert (run["status"], run["reason"]) == ("failed", "server_restart")
        wait_for(lambda: task(client, queued.json()["id"])["status"] == "succeeded")


def test_servers_sharing_postgresql_never_start_a_run_twice(
    server_env: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    if not settings.database.startswith("postgresql"):
        pytest.skip("several servers share a database only on PostgreSQL")
    servers = [
        ServerProcess(server_env | {"PYJOBS_MAX_CONCURRENT": "3"}, tmp_path / f"server{i}.log")
        for i in range(2)
    ]
    for server in servers:
        server.start()
    try:
        ids = []
        for i in range(24):
            url = servers[i % 2].url
            created = httpx.post(
                f"{url}/api/v1/tasks/submit", json={"python_code": f"print('run {i}')"}, timeout=30
            )
            ids.append(created.json()["id"])
        with httpx.Client(base_url=servers[0].url, timeout=30) as client:
            for task_id in ids:
                wait_for(lambda t=task_id: task(client, t)["status"] == "succeeded")
            for i, task_id in enumerate(ids):
                # A run started twice would have written its line twice into the same log.
                log = client.get(f"/api/v1/tasks/{task_id}/logs").text
                assert log.count(f"run {i}\n") == 1, log
    finally:
        for server in servers:
            server.stop()
