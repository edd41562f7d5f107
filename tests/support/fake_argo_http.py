"""The stand-in's HTTP side: requests checked against the spec, answered by `FakeArgo`."""

from __future__ import annotations

import json
import time
from contextlib import suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tests.support.swagger import Operation, SpecViolation, argo_api

if TYPE_CHECKING:
    from tests.support.fake_argo import FakeArgo

# grpc-gateway answers errors as {"code": <gRPC code>, "message": ...}.
_GRPC = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 409: 6, 415: 3, 500: 2, 501: 12, 503: 14}


@dataclass(frozen=True)
class Seen:
    """A request as the stand-in received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    at: float


class ArgoError(Exception):
    """An answer in grpc-gateway's error shape: `{"code": grpc code, "message": ...}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Handler(BaseHTTPRequestHandler):
    """HTTP in, `FakeArgo.handle` out; keeps connections alive like a real server."""

    protocol_version = "HTTP/1.1"
    server_version = "fake-argo"

    @property
    def fake(self) -> FakeArgo:
        fake: FakeArgo = self.server.fake  # type: ignore[attr-defined]
        return fake

    def setup(self) -> None:
        super().setup()
        with self.fake.lock:
            self.fake.connections.add(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests look at `requests` instead."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        fake, api = self.fake, argo_api()
        try:
            operation = api.match(self.command, url.path)
            if not fake.accepts(self.headers.get("Authorization")):
                raise ArgoError(401, "token not valid. see https://argo-workflows.readthedocs.io")
            api.check_query(operation, query)
            body = api.check_body(operation, raw, self.headers.get("Content-Type", ""))
        except SpecViolation as violation:
            fake.violations.append(f"{self.command} {self.path}: {violation.message}")
            self._error(violation.status, violation.message)
            return
        except ArgoError as error:
            self._error(error.status, error.message)
            return
        with fake.lock:
            fake.requests.append(Seen(self.command, url.path, query, body, time.time()))
        fault = fake.fault_for(self.command, url.path)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        elif fault is not None:
            self._error(fault.status, fault.message)
            return
        try:
            if operation.operation_id == "WorkflowService_WorkflowLogs":
                with suppress(ConnectionError):  # the reader went away mid-stream
                    self._stream_logs(operation, query)
                return
            self._json(200, fake.handle(operation, query, body))
        except ArgoError as error:
            self._error(error.status, error.message)

    def _stream_logs(self, operation: Operation, query: dict[str, list[str]]) -> None:
        params = operation.path_params
        follow = query.get("logOptions.follow", ["false"])[0] == "true"
        lines = self.fake.log_lines(params["namespace"], params["name"], follow)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        # Without a container, Argo streams nothing for workflow pods (several containers).
        if query.get("logOptions.container", [""])[0] == "main":
            for line in lines:
                data = line.encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
        if self.fake.is_up:  # when "unreachable", the connection was cut mid-stream
            self.wfile.write(b"0\r\n\r\n")

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"code": _GRPC.get(status, 2), "message": message})
