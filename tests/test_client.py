"""`pyjobs.Client` against a live server (real HTTP, real sandboxed runs), and its errors."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import yaml

import pyjobs
from pyjobs import (
    ApiError,
    Client,
    ConflictError,
    ForbiddenError,
    InvalidTaskError,
    NotFoundError,
    PayloadTooLargeError,
    ServerUnreachableError,
    TaskSpec,
    UnauthorizedError,
    WaitTimeoutError,
)
from pyjobs.config import Settings
from pyjobs.status import FailureReason, RunStatus
from tests.support.live import free_port, server_thread, token_for

SLEEPER = "import time; print('started', flush=True); time.sleep(600)"


@pytest.fixture
def client(live_server: str) -> Iterator[Client]:
    with Client(live_server, token="") as c:
        yield c


def output(log: str) -> str:
    """The program's own output: a log without pyjobs' notes (e.g. an environment build)."""
    return "".join(line for line in log.splitlines(True) if not line.startswith("[pyjobs] "))


def no_requests(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request expected, got {request.method} {request.url}")


def answering(status: int, body: object) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handler)


def error(code: str, message: str, field: str | None = None) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "field": field}}


def test_submit_wait_logs_and_the_task(client: Client) -> None:
    created = client.submit("print(2+2)")
    assert created.run_number == 1
    assert created.status is RunStatus.PENDING
    task = client.wait(created.id, timeout=120)
    assert task.status is RunStatus.SUCCEEDED
    (run,) = task.runs
    assert (run.number, run.exit_code, run.reason) == (1, 0, None)
    assert run.workflow_name == created.workflow_id
    assert output("".join(client.logs(created.id))) == "4\n"
    assert client.get(created.id) == task
    assert yaml.safe_load(client.manifest(created.id, run=1))["kind"] == "Workflow"


def test_logs_follow_a_live_run_to_its_end(client: Client) -> None:
    code = "import time\nfor i in range(3):\n    print('line', i, flush=True)\n    time.sleep(0.5)"
    created = client.submit(code)
    followed = output("".join(client.logs(created.id, follow=True)))
    assert followed == "line 0\nline 1\nline 2\n"
    assert client.get(created.id).status is RunStatus.SUCCEEDED


def test_options_and_a_task_spec_reach_the_server(client: Client) -> None:
    code = "import os, sys; print(os.environ['GREETING']); sys.exit(3)"
    created = client.submit(
        code, env={"GREETING": "hello"}, network=False, timeout_seconds=60, memory_mb=256
    )
    task = client.wait(created.id, timeout=120)
    assert task.spec["env"] == {"GREETING": "hello"}
    assert (task.spec["network"], task.spec["timeout_seconds"]) == (False, 60)
    assert (task.status, task.runs[0].reason, task.runs[0].exit_code) == (
        RunStatus.FAILED,
        FailureReason.EXIT_CODE,
        3,
    )
    assert output("".join(client.logs(created.id))) == "hello\n"
    spec = TaskSpec.parse({"pythonCode": "print('spec')", "dependencies": "six"})
    manifest = yaml.safe_load(client.preview(spec))
    assert manifest["metadata"]["generateName"] == "python-job-"
    assert "six" in str(manifest)
    again = client.submit(spec, idempotency_key="k-1")
    assert client.submit(spec, idempotency_key="k-1").id == again.id


def test_rerun_cancel_conflict_wait_timeout_and_delete(client: Client) -> None:
    created = client.submit(SLEEPER)
    with pytest.raises(ConflictError, match="active"):
        client.rerun(created.id)
    with pytest.raises(WaitTimeoutError) as waited:
        client.wait(created.id, timeout=0.3, poll=0.1)
    assert isinstance(waited.value, TimeoutError)
    assert waited.value.task_id == created.id
    client.cancel(created.id)
    assert client.wait(created.id, timeout=180).status is RunStatus.CANCELLED
    second = client.rerun(created.id)
    assert second.run_number == 2
    client.cancel(created.id)
    task = client.wait(created.id, timeout=60)
    assert [run.status for run in task.runs] == [RunStatus.CANCELLED] * 2
    with pytest.raises(NotFoundError) as missing:
        list(client.logs(created.id, run=3))
    assert (missing.value.what, missing.value.key) == ("run", f"{created.id}/3")
    client.delete(created.id)
    with pytest.raises(NotFoundError) as gone:
        client.get(created.id)
    assert (gone.value.what, gone.value.key) == ("task", created.id)


class CountingTransport(httpx.HTTPTransport):
    """A real transport that remembers the paths it was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return super().handle_request(request)


def test_list_pages_lazily(live_server: str) -> None:
    transport = CountingTransport()
    with Client(live_server, token="", transport=transport) as client:
        ids = [client.submit(f"print({n})").id for n in range(5)]
        for task_id in ids:
            client.wait(task_id, timeout=120)
        transport.paths.clear()
        listing = client.list(page_size=2)
        assert transport.paths == []  # nothing is fetched before iteration
        assert [task.id for task in listing] == ids[::-1]
        assert transport.paths == ["/api/v1/tasks"] * 3
        assert [task.title for task in client.list(limit=3, page_size=2)] == [
            "print(4)",
            "print(3)",
            "print(2)",
        ]
        assert list(client.list(status="failed")) == []
        page = client.list_page(status=RunStatus.SUCCEEDED, limit=4)
        assert len(page.data) == 4
        assert page.next_cursor is not None
        assert [t.id for t in client.list_page(limit=4, cursor=page.next_cursor).data] == ids[:1]


def test_invalid_input_is_refused_before_any_request() -> None:
    with Client("http://pyjobs.invalid", token="", transport=httpx.MockTransport(no_requests)) as c:
        with pytest.raises(InvalidTaskError) as empty:
            c.submit("")
        assert (empty.value.field, empty.value.message) == ("python_code", "code is empty")
        with pytest.raises(InvalidTaskError) as bad_dependency:
            c.submit("print(1)", dependencies=["numpy", "numpy; rm -rf /"])
        assert bad_dependency.value.field == "dependencies[1]"
        with pytest.raises(InvalidTaskError, match="reserved") as reserved:
            c.preview("print(1)", env={"PATH": "/tmp"})
        assert reserved.value.field == "env"
        with pytest.raises(InvalidTaskError) as status:
            c.list(status="bogus")
        assert status.value.field == "status"
        with pytest.raises(InvalidTaskError):
            c.list_page(limit=501)
        with pytest.raises(InvalidTaskError):
            c.logs("t", run=0)
        with pytest.raises(NotFoundError):
            c.get("")
        with pytest.raises(TypeError, match="timeout_seconds"):
            c.submit(TaskSpec.parse({"python_code": "1"}), timeout_seconds=5)


def test_the_server_s_own_validation_names_the_field(client: Client) -> None:
    with pytest.raises(InvalidTaskError) as cursor:
        client.list_page(cursor="x" * 100)
    assert cursor.value.field == "cursor"


def test_ids_stay_one_path_segment(client: Client) -> None:
    for task_id in ("../tasks", "a/logs", "..", "?x=1", "%2e%2e", "a%2Fb", "#"):
        with pytest.raises(NotFoundError) as missing:
            client.get(task_id)
        assert missing.value.key == task_id


def test_tokens_from_arguments_and_the_environment(
    live_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = token_for(live_settings, "alice")
    with server_thread(live_settings) as url:
        with Client(url, token="") as anonymous, pytest.raises(UnauthorizedError, match="bearer"):
            anonymous.get("x")
        with Client(url, "pjt_" + "wrong") as wrong, pytest.raises(UnauthorizedError):
            list(wrong.list())
        monkeypatch.setenv("PYJOBS_URL", url + "/")
        monkeypatch.setenv("PYJOBS_TOKEN", secret)
        with Client() as from_env:
            assert from_env.url == url
            created = from_env.submit("print('mine')")
            assert [t.id for t in from_env.list()] == [created.id]
            assert output("".join(from_env.logs(created.id, follow=True))) == "mine\n"


def test_an_unreachable_server_is_named() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with Client(url, token="") as client:
        with pytest.raises(ServerUnreachableError) as refused:
            client.get("x")
        assert refused.value.url == url
        assert str(refused.value).startswith(f"cannot reach the pyjobs server at {url} (")
        with pytest.raises(ServerUnreachableError):
            list(client.logs("x", follow=True))


@pytest.mark.parametrize(
    ("status", "body", "kind", "text"),
    [
        (403, error("forbidden", "serves only its own machine"), ForbiddenError, "own machine"),
        (413, error("payload_too_large", "request body larger than 99 bytes"), None, "99"),
        (409, error("conflict", "run 2 is active"), ConflictError, "run 2 is active"),
        (503, error("unavailable", "shutting down"), ApiError, "503: shutting down"),
        (500, "<html><b>Bad</b>\n gateway</html>", ApiError, "<html><b>Bad</b> gateway</html>"),
        (404, {"detail": "Not Found"}, NotFoundError, "path '/api/v1/tasks/t' not found"),
    ],
)
def test_error_answers_map_to_the_exception_tree(
    status: int, body: object, kind: type[Exception] | None, text: str
) -> None:
    transport = answering(status, body)
    with (
        Client("http://pyjobs.test", token="", transport=transport) as client,
        pytest.raises(pyjobs.PyjobsError) as raised,
    ):
        client.get("t")
    if kind is None:
        assert isinstance(raised.value, PayloadTooLargeError)
        assert raised.value.limit == 99
    else:
        assert type(raised.value) is kind
    assert text in str(raised.value)
    if isinstance(raised.value, ApiError):
        assert raised.value.status == status


def test_a_payload_too_large_without_a_limit() -> None:
    with (
        Client("http://t", token="", transport=answering(413, "too big")) as client,
        pytest.raises(PayloadTooLargeError) as raised,
    ):
        client.submit("print(1)")
    assert raised.value.limit is None
    assert str(raised.value) == "request body too large"
