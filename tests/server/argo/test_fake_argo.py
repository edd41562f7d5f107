"""The stand-in keeps to the Argo Server's API: what the spec forbids, it refuses."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pyjobs.manifests import ManifestOptions, RunRef, build_manifest
from pyjobs.spec import TaskSpec
from tests.server.argo.helpers import job
from tests.support.argo_schema import workflow_errors
from tests.support.fake_argo import FakeArgo, fake_argo

BASE = "/api/v1/workflows/argo"


@pytest.fixture
def fake() -> Iterator[FakeArgo]:
    with fake_argo() as server:
        yield server


@pytest.fixture
def client(fake: FakeArgo) -> Iterator[httpx.Client]:
    auth = {"Authorization": f"Bearer {fake.token}"}
    with httpx.Client(base_url=fake.url, headers=auth, timeout=10) as http:
        yield http


def manifest(code: str = "print(1)") -> dict[str, Any]:
    spec = TaskSpec.parse({"python_code": code})
    return build_manifest(spec, ManifestOptions(), RunRef("task1", 1))


@pytest.mark.parametrize(
    "case",
    [
        ("GET", "/api/v1/workflowz/argo", {}, 404),
        ("PATCH", f"{BASE}/wf", {}, 405),
        ("GET", f"{BASE}/wf", {"follow": "true"}, 400),
        ("GET", f"{BASE}/wf/log", {"logOptions.follow": "yes"}, 400),
        ("GET", f"{BASE}/wf/log", {"logOptions.sinceTime.nanos": "x"}, 400),
    ],
)
def test_requests_outside_the_spec_are_refused(
    fake: FakeArgo, client: httpx.Client, case: tuple[str, str, dict[str, str], int]
) -> None:
    method, path, params, status = case
    assert client.request(method, path, params=params).status_code == status
    assert len(fake.violations) == 1
    fake.violations.clear()


def test_bodies_are_checked_against_the_spec_and_the_schema(
    fake: FakeArgo, client: httpx.Client
) -> None:
    assert client.post(BASE, json={"workflow": manifest(), "dryRun": True}).status_code == 400
    typo = manifest()
    typo["spec"]["entrypoiint"] = typo["spec"].pop("entrypoint")
    answer = client.post(BASE, json={"workflow": typo})
    assert answer.status_code == 400
    assert "entrypoiint" in answer.json()["message"]
    assert client.request("GET", f"{BASE}/wf", content=b"{}").status_code == 400
    assert client.post(BASE, content=b"not json").status_code in (400, 415)
    assert len(fake.violations) == 4
    fake.violations.clear()


def test_the_bearer_token_is_checked(fake: FakeArgo, client: httpx.Client) -> None:
    assert httpx.get(f"{fake.url}{BASE}/wf").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert httpx.get(f"{fake.url}{BASE}/wf", headers=wrong).json()["code"] == 16
    assert client.get(f"{BASE}/wf").status_code == 404


def test_a_workflow_lives_like_on_argo(fake: FakeArgo, client: httpx.Client) -> None:
    code = job(((0, "one"), (0.2, "two")), exit_code=3)
    created = client.post(BASE, json={"workflow": manifest(code)}).json()
    name = created["metadata"]["name"]
    assert name.startswith("python-job-")
    assert len(name) == len("python-job-") + 5
    assert created["status"] == {}
    phases: list[str] = []
    deadline = time.monotonic() + 10
    while not phases or phases[-1] != "Failed":
        assert time.monotonic() < deadline
        workflow = client.get(f"{BASE}/{name}").json()
        assert workflow_errors(workflow) == []  # statuses in Argo's own schema, too
        phase = (workflow["status"] or {}).get("phase", "")
        if not phases or phases[-1] != phase:
            phases.append(phase)
        time.sleep(0.02)
    assert phases[-2:] == ["Running", "Failed"]  # after "" (for a moment after the create)
    node = workflow["status"]["nodes"][name]
    assert (node["type"], node["message"]) == ("Pod", "main: Error (exit code 3)")
    assert node["outputs"]["exitCode"] == "3"
    params = {"logOptions.container": "main", "logOptions.follow": "true"}
    lines = client.get(f"{BASE}/{name}/log", params=params).text.splitlines()
    assert [json.loads(line)["result"]["content"] for line in lines] == ["one", "two"]
    assert client.get(f"{BASE}/{name}/log").text == ""  # no container: nothing
    stop = client.put(f"{BASE}/{name}/stop", json={"name": name, "namespace": "argo"})
    assert stop.status_code == 500
    assert stop.json()["message"].startswith("cannot shutdown a completed workflow")


def test_stop_ends_a_running_workflow(fake: FakeArgo, client: httpx.Client) -> None:
    name = client.post(BASE, json={"workflow": manifest(job(seconds=60))}).json()["metadata"]
    name = name["name"]
    assert client.put(f"{BASE}/{name}/stop", json={"name": name}).status_code == 200
    time.sleep(0.4)
    workflow = client.get(f"{BASE}/{name}").json()
    assert workflow["spec"]["shutdown"] == "Stop"
    assert workflow["status"]["phase"] == "Failed"
    assert workflow["status"]["message"] == "Stopped with strategy 'Stop'"
    found = client.get(BASE, params={"listOptions.labelSelector": "pyjobs/task-id=task1"})
    assert [w["metadata"]["name"] for w in found.json()["items"]] == [name]
