"""A restarted server re-attaches to Argo runs in flight: they end well, logs not doubled."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.argo.conftest import ArgoTarget
from tests.server.argo.helpers import job, latest_run, submit, wait_final, wait_run
from tests.support.live import ServerProcess
from tests.support.postgres import database_of


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLite, or PostgreSQL where a test asks for it (re-attaching claims rows)."""
    with database_of(getattr(request, "param", "sqlite"), tmp_path) as url:
        yield url


@pytest.fixture
def process(argo: ArgoTarget, database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    quick = argo.fake is not None
    env = {
        **os.environ,
        "PYJOBS_HOME": str(tmp_path / "home"),
        "PYJOBS_DATABASE_URL": database_url,
        "PYJOBS_BACKEND": "argo",
        "PYJOBS_ARGO_SERVER": argo.url,
        "PYJOBS_ARGO_TOKEN": argo.token or "",
        "PYJOBS_ARGO_NAMESPACE": argo.namespace,
        "PYJOBS_ARGO_VERIFY_SSL": str(argo.verify_ssl).lower(),
        "PYJOBS_ARGO_POLL_SECONDS": "0.05" if quick else "1",
        "PYJOBS_ARGO_RETRY_MAX_SECONDS": "0.3" if quick else "5",
        "PYJOBS_SHUTDOWN_GRACE_SECONDS": "1",
    }
    server = ServerProcess(env, tmp_path / "server.log")
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("how", "database_url"),
    [("kill -9", "sqlite"), ("SIGTERM", "sqlite"), ("kill -9", "postgresql")],
    indirect=["database_url"],
)
def test_restart_mid_run_reattaches(process: ServerProcess, argo: ArgoTarget, how: str) -> None:
    code = job(((0, "first"), (6, "second")), seconds=6.5)
    process.start()
    with httpx.Client(base_url=f"{process.url}/api/v1", timeout=30) as api:
        task_id = submit(api, {"python_code": code})
        wait_run(api, task_id, lambda run: run["status"] == "running", argo.patience)
        wait_run(api, task_id, lambda _: "first" in api.get(f"/tasks/{task_id}/logs").text, 30)
    process.kill() if how == "kill -9" else process.stop()
    process.start()
    with httpx.Client(base_url=f"{process.url}/api/v1", timeout=30) as api:
        # Not failed with server_restart: the workflow went on while no server followed it.
        assert latest_run(api, task_id)["status"] in ("running", "succeeded")
        run = wait_final(api, task_id, argo.patience)
        assert (run["status"], run["reason"], run["exit_code"]) == ("succeeded", None, 0)
        assert api.get(f"/tasks/{task_id}/logs").text == "first\nsecond\n"
    if argo.fake is not None:
        assert len(argo.fake.workflows) == 1
        assert len(argo.fake.seen("POST")) == 1


def test_cancel_asked_while_no_server_follows_is_carried_out(
    process: ServerProcess, argo: ArgoTarget
) -> None:
    process.start()
    with httpx.Client(base_url=f"{process.url}/api/v1", timeout=30) as api:
        task_id = submit(api, {"python_code": job(seconds=600)})
        wait_run(api, task_id, lambda run: run["status"] == "running", argo.patience)
    process.kill()
    process.start()
    with httpx.Client(base_url=f"{process.url}/api/v1", timeout=30) as api:
        api.post(f"/tasks/{task_id}/cancel")
        run = wait_final(api, task_id, argo.patience)
        assert (run["status"], run["reason"]) == ("cancelled", "cancelled")
    if argo.fake is not None:
        assert len(argo.fake.seen("PUT", "/stop")) == 1
