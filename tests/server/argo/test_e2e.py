"""The service on the Argo backend through its REST API: submit, follow, cancel, fail."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.server.argo.conftest import ArgoTarget
from tests.server.argo.helpers import job, latest_run, submit, wait_final, wait_run
from tests.support.argo_schema import workflow_errors


def test_submit_follow_logs_succeed(api: httpx.Client, argo: ArgoTarget) -> None:
    code = job(((0, "hello"), (0.3, "from argo")))
    task_id = submit(api, {"python_code": code, "memory_mb": 256, "cpu": 0.5})
    with api.stream(
        "GET", f"/tasks/{task_id}/logs", params={"follow": "true"}, timeout=argo.patience
    ) as stream:
        followed = "".join(stream.iter_text())
    assert followed.splitlines()[-2:] == ["hello", "from argo"]
    run = wait_final(api, task_id, argo.patience)
    assert (run["status"], run["reason"], run["exit_code"]) == ("succeeded", None, 0)
    assert run["workflow_name"].startswith("python-job-")
    assert len(run["workflow_name"]) == len("python-job-") + 5
    assert run["started_at"] is not None
    assert api.get(f"/tasks/{task_id}/logs").text == followed
    if argo.fake is None:
        return
    # What reached Argo: the run's own hardened manifest, valid against Argo's schema.
    workflow = argo.fake.workflow(run["workflow_name"]).manifest
    assert workflow_errors(workflow) == []
    manifest = api.get(f"/tasks/{task_id}/manifest").text
    assert "automountServiceAccountToken: false" in manifest
    spec = workflow["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["executor"]["serviceAccountName"] == "pyjobs-runner"
    container = spec["templates"][0]["script"]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["limits"] == {"cpu": "500m", "memory": "256Mi"}
    assert workflow["metadata"]["labels"]["pyjobs/task-id"] == task_id
    (created,) = argo.fake.seen("POST", "/api/v1/workflows/argo")
    assert created.body["workflow"]["metadata"]["generateName"] == "python-job-"
    logs = argo.fake.seen("GET", f"/{run['workflow_name']}/log")
    assert logs[0].query == {"logOptions.container": ["main"], "logOptions.follow": ["true"]}


def test_cancel_sends_stop(api: httpx.Client, argo: ArgoTarget) -> None:
    task_id = submit(api, {"python_code": job(((0, "started"),), seconds=600)})
    wait_run(api, task_id, lambda run: run["status"] == "running", argo.patience)
    answer = api.post(f"/tasks/{task_id}/cancel")
    assert answer.status_code == 200, answer.text
    run = wait_final(api, task_id, argo.patience)
    assert (run["status"], run["reason"]) == ("cancelled", "cancelled")
    if argo.fake is not None:
        assert len(argo.fake.seen("PUT", "/stop")) == 1
        assert argo.fake.seen("PUT", "/terminate") == []


def test_cancel_terminates_when_stop_does_not_end_it(api: httpx.Client, argo: ArgoTarget) -> None:
    fake = argo.stand_in("a stop that does not end the workflow")
    fake.ignore_stop = True
    task_id = submit(api, {"python_code": job(seconds=600)})
    wait_run(api, task_id, lambda run: run["status"] == "running", argo.patience)
    api.post(f"/tasks/{task_id}/cancel")
    run = wait_final(api, task_id, argo.patience)
    assert (run["status"], run["reason"]) == ("cancelled", "cancelled")
    (stop,) = fake.seen("PUT", "/stop")
    (terminate,) = fake.seen("PUT", "/terminate")
    assert terminate.at - stop.at >= 1.0  # PYJOBS_ARGO_CANCEL_GRACE_SECONDS


def test_cancel_of_a_workflow_that_just_ended_is_no_error(
    api: httpx.Client, argo: ArgoTarget
) -> None:
    fake = argo.stand_in("a stop that arrives after the end")
    task_id = submit(api, {"python_code": job(((0, "done"),))})
    run = wait_final(api, task_id, argo.patience)
    name = run["workflow_name"]
    answer = httpx.put(
        f"{fake.url}/api/v1/workflows/argo/{name}/stop",
        json={"name": name, "namespace": "argo"},
        headers={"Authorization": f"Bearer {fake.token}"},
    )
    assert answer.status_code == 500
    assert "cannot shutdown a completed workflow" in answer.json()["message"]
    assert api.post(f"/tasks/{task_id}/cancel").json()["status"] == "succeeded"


FAILURES: list[tuple[str, dict[str, Any], str, int | None]] = [
    ("exit_code", {"python_code": job(exit_code=3)}, "exit code 3", 3),
    (
        "dependency_install",
        # On a real cluster the package does not exist; the stand-in is told exit 97.
        {"python_code": job(exit_code=97), "dependencies": "pyjobs-no-such-package-zz"},
        "",
        97,
    ),
    ("memory", {"python_code": job(oom=True), "memory_mb": 64}, "OOMKilled", None),
    ("timeout", {"python_code": job(seconds=600), "timeout_seconds": 2}, "deadline", None),
]


@pytest.mark.parametrize("case", FAILURES, ids=[f[0] for f in FAILURES])
def test_failure_reasons(
    api: httpx.Client, argo: ArgoTarget, case: tuple[str, dict[str, Any], str, int | None]
) -> None:
    reason, body, says, exit_code = case
    run = wait_final(api, submit(api, body), argo.patience)
    assert (run["status"], run["reason"]) == ("failed", reason), run
    assert says in run["message"]
    if exit_code is not None:
        assert run["exit_code"] == exit_code


def test_argo_unreachable_keeps_the_run_pending_until_it_is_back(
    api: httpx.Client, argo: ArgoTarget
) -> None:
    fake = argo.stand_in("an Argo Server that goes away")
    fake.down()
    task_id = submit(api, {"python_code": job(((0, "made it"),))})
    run = wait_run(api, task_id, lambda run: "Argo Server" in run["message"], 10)
    assert run["status"] == "pending"
    assert run["workflow_name"] is None
    time.sleep(1.0)  # several retries, all refused
    assert latest_run(api, task_id)["status"] == "pending"
    fake.up()
    run = wait_final(api, task_id, argo.patience)
    assert run["status"] == "succeeded"
    assert run["message"] == ""
    assert api.get(f"/tasks/{task_id}/logs").text == "made it\n"


def test_argo_unreachable_while_running_loses_nothing(api: httpx.Client, argo: ArgoTarget) -> None:
    fake = argo.stand_in("an Argo Server that goes away mid-run")
    task_id = submit(api, {"python_code": job(((0, "one"), (1.5, "two")), seconds=2)})
    wait_run(api, task_id, lambda run: run["status"] == "running", argo.patience)
    fake.down()
    run = wait_run(api, task_id, lambda run: "Argo Server" in run["message"], 10)
    assert run["status"] == "running"
    time.sleep(1.0)
    fake.up()
    run = wait_final(api, task_id, argo.patience)
    assert run["status"] == "succeeded"
    assert api.get(f"/tasks/{task_id}/logs").text == "one\ntwo\n"


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "admission webhook denied the request: no python here"),
        (403, 'workflows.argoproj.io is forbidden: User "pyjobs" cannot create'),
        (409, 'workflows.argoproj.io "python-job-abcde" already exists'),
    ],
)
def test_argo_refusing_the_workflow_fails_the_run(
    api: httpx.Client, argo: ArgoTarget, status: int, message: str
) -> None:
    fake = argo.stand_in("an Argo Server that refuses")
    fake.fail_next(status, message, method="POST")
    run = wait_final(api, submit(api, {"python_code": "print(1)"}), argo.patience)
    assert (run["status"], run["reason"]) == ("failed", "backend_error")
    assert f"HTTP {status}" in run["message"]
    assert message in run["message"]
    assert fake.workflows == {}


@pytest.mark.parametrize("status", [500, 503])
def test_argo_server_errors_are_retried(api: httpx.Client, argo: ArgoTarget, status: int) -> None:
    fake = argo.stand_in("an Argo Server that fails for a while")
    fake.fail_next(status, "etcdserver: request timed out", method="POST", times=3)
    run = wait_final(api, submit(api, {"python_code": job(((0, "ok"),))}), argo.patience)
    assert run["status"] == "succeeded"
    assert len(fake.seen("POST")) == 4


def test_a_slow_create_is_not_made_twice(api: httpx.Client, argo: ArgoTarget) -> None:
    fake = argo.stand_in("an Argo Server slower than the request timeout")
    fake.slow_next(2.0, method="POST")  # the answer comes after pyjobs gave up waiting
    task_id = submit(api, {"python_code": job(((0, "once"),))})
    run = wait_final(api, task_id, argo.patience)
    assert run["status"] == "succeeded"
    # The retry found the workflow the first attempt created, by its labels.
    assert list(fake.workflows) == [run["workflow_name"]]
    assert api.get(f"/tasks/{task_id}/logs").text == "once\n"
