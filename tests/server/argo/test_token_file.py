"""`PYJOBS_ARGO_TOKEN_FILE`: a run goes on while its token rotates and the old one is revoked."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx

from tests.executors.helpers import wait_for
from tests.server.argo.conftest import ArgoTarget, argo_settings
from tests.server.argo.helpers import job, submit, wait_final, wait_run
from tests.support.fake_argo import fake_argo
from tests.support.live import server_thread
from tests.support.tokens import project_token


def test_a_rotated_token_file_is_used_from_the_next_request_on(tmp_path: Path) -> None:
    with fake_argo() as fake:
        projected = tmp_path / "projected"
        projected.mkdir()
        project_token(projected, fake.token, 1)
        target = ArgoTarget(fake.url, None, "argo", True, fake)
        settings = argo_settings(
            target, tmp_path / "home", f"sqlite:///{tmp_path / 'pyjobs.db'}"
        ).model_copy(update={"argo_token_file": projected / "token"})
        with (
            server_thread(settings) as url,
            httpx.Client(base_url=f"{url}/api/v1", timeout=30) as api,
        ):
            code = job(((0, "before"), (1.5, "after")), seconds=2)
            task_id = submit(api, {"python_code": code})
            wait_run(api, task_id, lambda run: run["status"] == "running", 30)
            # Rotation as on Kubernetes: the new token is valid before the file changes...
            rotated = f"rotated-{secrets.token_hex(8)}"
            fake.also_accepted.add(rotated)
            project_token(projected, rotated, 2)
            # ...and the old one is revoked once pyjobs has used the new one: a request that
            # read the old token just before the file changed may still arrive (Kubernetes
            # honours an old token until it expires).
            assert wait_for(lambda: fake.accepted_tokens[rotated] > 0, timeout=30)
            with fake.lock:
                fake.token = rotated
                fake.also_accepted.clear()
                asked_before = len(fake.requests)
            run = wait_final(api, task_id, 30)
            logs = api.get(f"/tasks/{task_id}/logs").text
        with fake.lock:
            asked_after = len(fake.requests) - asked_before
        assert (run["status"], run["reason"]) == ("succeeded", None), run
        assert logs.splitlines()[-2:] == ["before", "after"]
        assert asked_after > 0  # pyjobs kept talking to Argo after the revocation...
        assert fake.refused_tokens == 0  # ...and never with the revoked token
        assert fake.violations == []
