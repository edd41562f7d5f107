"""The REST API over real HTTP, on SQLite and PostgreSQL, with real sandboxed runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from pyjobs.config import Settings
from tests.support.argo_schema import workflow_errors
from tests.support.live import wait_final

NUMPY = {"python_code": "import numpy; print(numpy.arange(10).sum())", "dependencies": "numpy"}
SLEEPER = {"python_code": "import time; print('started', flush=True); time.sleep(600)"}


def wait_output(api: httpx.Client, task_id: str, marker: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while marker not in api.get(f"/tasks/{task_id}/logs").text:
        assert time.monotonic() < deadline, f"{marker!r} never appeared"
        time.sleep(0.1)


def submit(api: httpx.Client, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = api.post("/tasks/submit", json=body, headers=headers)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_submit_follow_logs_and_read_the_result(api: httpx.Client) -> None:
    created = submit(api, NUMPY)
    assert created["run_number"] == 1
    assert created["status"] == "pending"
    assert created["workflow_id"].startswith("python-job-")
    with api.stream("GET", f"/tasks/{created['id']}/logs", params={"follow": "true"}) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"] == "text/plain; charset=utf-8"
        followed = "".join(stream.iter_text())
    assert followed.splitlines()[-1] == "45"
    task = wait_final(api, created["id"])
    assert task["status"] == "succeeded"
    (run,) = task["runs"]
    assert run["status"] == "succeeded"
    assert run["exit_code"] == 0
    assert run["workflow_name"] == created["workflow_id"]
    assert run["setup_seconds"] is not None
    assert run["run_seconds"] is not None
    assert run["env_cache_hit"] in (True, False)
    assert "bwrap" in run["limits"]
    assert run["spec"]["dependencies"] == ["numpy"]
    # After the run, the log stays readable, and following it returns at once.
    assert api.get(f"/tasks/{created['id']}/logs").text == followed
    again = api.get(f"/tasks/{created['id']}/logs", params={"follow": "true", "run": 1})
    assert again.text == followed


def test_code_with_template_syntax_runs_exactly_as_written(api: httpx.Client) -> None:
    code = (
        "print('{{=1+1}} {{workflow.name}} $HOME `id`')\n"
        "import sys; sys.stdout.buffer.write(b'\\xff\\n')"
    )
    created = submit(api, {"pythonCode": code})
    assert wait_final(api, created["id"])["status"] == "succeeded"
    log = api.get(f"/tasks/{created['id']}/logs").text
    assert "{{=1+1}} {{workflow.name}} $HOME `id`\n\ufffd\n" in log


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"python_code": "a\u0000b"}, "python_code", "code contains a NUL byte"),
        (
            {"python_code": "1", "dependencies": "numpy; rm -rf /"},
            "dependencies[0]",
            "not a valid PEP 508 requirement: 'numpy;'",
        ),
        (
            {"python_code": "1", "dependencies": ["numpy; rm -rf /"]},
            "dependencies[0]",
            "not a valid PEP 508 requirement: 'numpy; rm -rf /'",
        ),
        (
            {"python_code": "1", "dependencies": ["-e git+https://example.invalid/x.git"]},
            "dependencies[0]",
            "options are not allowed: '-e'",
        ),
        (
            {"python_code": "1", "dependencies": [f"p{i}" for i in range(10_000)]},
            "dependencies",
            "10000 dependencies, more than the limit of 200",
        ),
        (
            {"python_code": "1", "requirements_file": "six\n--index-url http://x"},
            "requirements_file",
            "line 2: option '--index-url' is not allowed",
        ),
        ({"python_code": "1", "timeout_seconds": 0}, "timeout_seconds", None),
        (
            {"python_code": "1", "env": {"PATH": "/x"}},
            "env",
            "'PATH' is reserved for the job itself",
        ),
        ({"python_code": "1", "namespace": "Bad_NS"}, "namespace", None),
        ({"pythonCod": "1"}, "python_code", "Field required"),
        ({"python_code": "1", "surprise": True}, "surprise", "unknown field"),
        ({"python_code": ["not", "a", "string"]}, "python_code", None),
    ],
)
def test_invalid_input_is_422_naming_the_field_and_stores_nothing(
    api: httpx.Client, body: dict[str, Any], field: str, message: str | None
) -> None:
    response = api.post("/tasks/submit", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["field"] == field
    if message is not None:
        assert error["message"] == message
    assert api.get("/tasks").json()["data"] == []


def test_raw_hostile_bodies(api: httpx.Client) -> None:
    headers = {"content-type": "application/json"}
    surrogate = api.post(
        "/tasks/submit", content=b'{"python_code": "x = \\"\\ud800\\""}', headers=headers
    )
    assert surrogate.status_code == 422
    assert surrogate.json()["error"]["field"] == "python_code"
    broken = api.post("/tasks/submit", content=b'{"python_code": ', headers=headers)
    assert broken.status_code == 422
    assert broken.json()["error"] == {
        "code": "invalid_request",
        "message": "the body is not valid JSON",
        "field": "body",
    }
    big = api.post("/tasks/submit", content=b"x" * (50 * 1024 * 1024), headers=headers)
    assert big.status_code == 413
    assert big.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Any:
        for _ in range(40):
            yield b" " * (100 * 1024)

    streamed = api.post("/tasks/submit", content=chunks(), headers=headers)
    assert streamed.status_code == 413
    assert api.get("/tasks").json()["data"] == []


def test_rerun_is_409_while_active_then_snapshots_a_new_run(api: httpx.Client) -> None:
    created = submit(api, SLEEPER)
    wait_output(api, created["id"], "started")
    conflict = api.post(f"/tasks/{created['id']}/run")
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "conflict"
    cancelled = api.post(f"/tasks/{created['id']}/cancel").json()
    assert cancelled["runs"][0]["status"] == "cancelled"
    assert wait_final(api, created["id"])["status"] == "cancelled"
    second = api.post(f"/tasks/{created['id']}/run")
    assert second.status_code == 201
    assert second.json()["run_number"] == 2
    wait_output(api, created["id"], "started")
    api.post(f"/tasks/{created['id']}/cancel")
    task = wait_final(api, created["id"])
    assert [r["number"] for r in task["runs"]] == [1, 2]
    assert [r["status"] for r in task["runs"]] == ["cancelled", "cancelled"]
    assert task["runs"][1]["spec"] == task["runs"][0]["spec"]
    assert api.get(f"/tasks/{created['id']}/logs", params={"run": 1}).headers["x-run-number"] == "1"
    # Cancelling an ended run changes nothing.
    assert api.post(f"/tasks/{created['id']}/cancel").json()["status"] == "cancelled"


def test_cancel_a_queued_run_before_it_starts(api: httpx.Client) -> None:
    blockers = [submit(api, SLEEPER) for _ in range(2)]  # max_concurrent is 2
    for blocker in blockers:
        wait_output(api, blocker["id"], "started")
    queued = submit(api, {"python_code": "print('never')"})
    task = api.post(f"/tasks/{queued['id']}/cancel").json()
    assert task["status"] == "cancelled"
    assert task["runs"][0]["started_at"] is None
    assert task["runs"][0]["message"] == "cancelled before it started"
    for blocker in blockers:
        api.post(f"/tasks/{blocker['id']}/cancel")
        assert wait_final(api, blocker["id"])["status"] == "cancelled"
    assert api.get(f"/tasks/{queued['id']}/logs").text == ""


def test_delete_removes_task_runs_and_logs(api: httpx.Client, settings: Settings) -> None:
    created = submit(api, SLEEPER)
    wait_output(api, created["id"], "started")
    run_dirs = list((settings.home_dir / "runs").iterdir())
    assert run_dirs
    assert api.delete(f"/tasks/{created['id']}").status_code == 204
    assert api.get(f"/tasks/{created['id']}").status_code == 404
    assert api.get(f"/tasks/{created['id']}/logs").status_code == 404
    assert not any(d.exists() for d in run_dirs)
    assert api.delete(f"/tasks/{created['id']}").status_code == 404


def test_manifest_and_preview(api: httpx.Client) -> None:
    created = submit(api, {"python_code": "print(1)", "dependencies": ["six"], "memory_mb": 128})
    response = api.get(f"/tasks/{created['id']}/manifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    manifest = yaml.safe_load(response.text)
    assert workflow_errors(manifest) == []
    labels = manifest["metadata"]["labels"]
    assert labels["pyjobs/task-id"] == created["id"]
    assert labels["pyjobs/run-number"] == "1"
    assert api.get(f"/tasks/{created['id']}/manifest", params={"run": 1}).text == response.text
    assert api.get(f"/tasks/{created['id']}/manifest", params={"run": 7}).status_code == 404
    preview = api.post("/manifests/preview", json={"python_code": "print(2)"})
    assert preview.status_code == 200
    assert workflow_errors(yaml.safe_load(preview.text)) == []
    assert len(api.get("/tasks").json()["data"]) == 1  # preview stored nothing
    bad = api.post("/manifests/preview", json={"python_code": "1", "dependencies": "-e x"})
    assert bad.status_code == 422


def test_listing_pages_and_filters(api: httpx.Client) -> None:
    ids = [submit(api, {"python_code": f"print({i})"})["id"] for i in range(5)]
    for task_id in ids:
        wait_final(api, task_id)
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.get("/tasks", params=params).json()
        seen += [t["id"] for t in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    assert (
        api.get("/tasks", params={"status": "succeeded"}).json()["data"][0]["title"] == "print(4)"
    )
    assert api.get("/tasks", params={"status": "running"}).json()["data"] == []
    assert api.get("/tasks", params={"status": "bogus"}).status_code == 422
    assert api.get("/tasks", params={"limit": 0}).status_code == 422


def test_idempotency_key_returns_the_same_task(api: httpx.Client) -> None:
    first = submit(api, {"python_code": "print('once')"}, **{"Idempotency-Key": "k-1"})
    again = api.post(
        "/tasks/submit", json={"python_code": "print('once')"}, headers={"Idempotency-Key": "k-1"}
    )
    assert again.status_code == 201
    assert again.json()["id"] == first["id"]
    other = submit(api, {"python_code": "print('once')"}, **{"Idempotency-Key": "k-2"})
    assert other["id"] != first["id"]
    assert len(api.get("/tasks").json()["data"]) == 2


def test_errors_have_one_shape(api: httpx.Client, server: str) -> None:
    missing = api.get("/tasks/nope")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"code": "not_found", "message": "task 'nope' not found", "field": None}
    }
    assert httpx.get(f"{server}/no/such/route").json()["error"]["code"] == "not_found"
    assert api.put("/tasks/submit").json()["error"]["code"] == "method_not_allowed"


def test_operations_endpoints(server: str, api: httpx.Client) -> None:
    assert httpx.get(f"{server}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server}/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "executor": True}
    created = submit(api, {"python_code": "print(1)"})
    wait_final(api, created["id"])
    metrics = httpx.get(f"{server}/metrics").text
    for name in (
        "pyjobs_submissions_total",
        "pyjobs_runs_finished_total",
        "pyjobs_run_duration_seconds_bucket",
        "pyjobs_setup_duration_seconds_bucket",
        "pyjobs_queue_depth",
        "pyjobs_env_cache_lookups_total",
    ):
        assert name in metrics
    assert 'pyjobs_runs_finished_total{reason="",status="succeeded"}' in metrics
    docs = httpx.get(f"{server}/docs")
    assert docs.status_code == 200
    openapi = httpx.get(f"{server}/openapi.json").json()
    paths = openapi["paths"]
    assert {"/api/v1/tasks/submit", "/api/v1/tasks/{task_id}/logs", "/healthz"} <= set(paths)
    # Submit reads its body itself: its documented body and header must still be there.
    submit_doc = paths["/api/v1/tasks/submit"]["post"]
    body_ref = submit_doc["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref.rsplit("/", 1)[1] in openapi["components"]["schemas"]
    assert [p["name"] for p in submit_doc["parameters"]] == ["idempotency-key"]


def test_state_survives_on_disk(api: httpx.Client, settings: Settings) -> None:
    created = submit(api, {"python_code": "print('kept')"})
    wait_final(api, created["id"])
    log_files = list(Path(settings.home_dir / "runs").glob("*/log"))
    assert any(f.read_text().strip().endswith("kept") for f in log_files)
