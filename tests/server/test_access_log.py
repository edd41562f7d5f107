"""Request logs: one JSON object per request, on the `pyjobs.access` logger."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from pathlib import Path

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from pyjobs.server.logs import FORMAT, LineFormatter
from pyjobs.server.middleware import AccessLog
from tests.support.live import ServerProcess


async def _answer(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["path"].endswith("/boom"):
        raise RuntimeError("boom")
    await send({"type": "http.response.start", "status": 418, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _request(path: str) -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "headers": [],
        "client": ("203.0.113.7", 5555),
    }


async def _call(scope: Scope) -> None:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    async def send(_message: object) -> None:
        pass

    await AccessLog(_answer)(scope, receive, send)


def test_each_request_is_one_json_object(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pyjobs.access")
    path = '/api/v1/tasks/"quoted"\\ und ümlaut\n'
    asyncio.run(_call(_request(path)))
    (record,) = caplog.records
    line = json.loads(record.getMessage())
    assert line["method"] == "GET"
    assert line["path"] == path  # escaped, not cut or mangled
    assert line["status"] == 418
    assert line["client"] == "203.0.113.7"
    assert 0 <= line["ms"] < 10_000


def test_a_request_that_fails_is_logged_as_500(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pyjobs.access")
    scope = _request("/boom")
    del scope["client"]
    with pytest.raises(RuntimeError):
        asyncio.run(_call(scope))
    line = json.loads(caplog.records[0].getMessage())
    assert (line["status"], line["client"]) == (500, None)


def test_lines_look_as_logging_makes_them() -> None:
    standard = logging.Formatter(FORMAT)
    ours = LineFormatter()
    now = time.time()
    for created in (now, now + 0.5, now + 1.25, now + 3600.999, 0.0):
        record = logging.LogRecord("pyjobs.access", logging.INFO, "", 0, "hello %s", ("x",), None)
        record.created, record.msecs = created, (created - int(created)) * 1000
        assert ours.format(record) == standard.format(record)


def test_pyjobs_serve_logs_every_request(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYJOBS_HOME": str(tmp_path / "home"),
        "PYJOBS_DATABASE_URL": f"sqlite:///{tmp_path / 'pyjobs.db'}",
        "PYJOBS_DISPATCH": "false",  # stored, not run: this is about the request
    }
    server = ServerProcess(env, tmp_path / "serve.log")
    server.start()
    try:
        answer = httpx.post(
            f"{server.url}/api/v1/tasks/submit", json={"python_code": "print(1)"}, timeout=30
        )
        assert answer.status_code == 201
        assert httpx.get(f"{server.url}/api/v1/tasks/nope", timeout=30).status_code == 404
    finally:
        server.stop()
    lines = re.findall(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO pyjobs\.access (\{.*\})$",
        server.log.read_text(),
        re.MULTILINE,
    )
    logged = [json.loads(line) for line in lines]
    assert {"method": "POST", "path": "/api/v1/tasks/submit", "status": 201} in [
        {key: entry[key] for key in ("method", "path", "status")} for entry in logged
    ]
    assert any(entry["path"] == "/api/v1/tasks/nope" and entry["status"] == 404 for entry in logged)
    assert all(entry["client"] == "127.0.0.1" for entry in logged)
