"""An in-process stand-in for the Argo Server's REST API, on a loopback port.

Every request is checked against `shared/argo/swagger.json` (path, method, query, body) and
every created Workflow against Argo's schema made strict; anything the spec does not allow
is answered 4xx and recorded in `violations`. It checks the bearer token, keeps workflows
in memory (`fake_workflow.FakeWorkflow` plays their life on the wall clock), serves
NDJSON logs (following them as they are "printed"), supports stop and terminate, and can
be told to misbehave: go away (`down`/`up`), answer errors (`fail_next`), answer slowly
(`slow_next`), or let stops do nothing (`ignore_stop`).
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from typing import Any

from tests.support.argo_schema import workflow_errors
from tests.support.fake_argo_http import ArgoError, Handler, Seen
from tests.support.fake_workflow import Behaviour, FakeWorkflow, Timing
from tests.support.live import free_port
from tests.support.swagger import Operation

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' generateName suffix alphabet


@dataclass
class _Fault:
    status: int
    message: str
    method: str | None
    path_contains: str | None
    times: int
    delay: float = 0.0


class FakeArgo:
    """The stand-in: start it, point pyjobs at `url` with `token`, drive it from the test."""

    def __init__(self, token: str | None = None, timing: Timing | None = None) -> None:
        self.token = token or f"fake-{secrets.token_hex(8)}"
        # Tokens valid besides `token`: Kubernetes honours an old token until it expires.
        self.also_accepted: set[str] = set()
        self.refused_tokens = 0
        self.accepted_tokens: Counter[str] = Counter()  # requests honoured, by token
        self.timing = timing or Timing()
        self.port = free_port()
        self.workflows: dict[str, FakeWorkflow] = {}
        self.requests: list[Seen] = []
        self.violations: list[str] = []
        self.ignore_stop = False
        self.lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._server: ThreadingHTTPServer | None = None
        self.connections: set[socket.socket] = set()
        self._up = threading.Event()

    @property
    def url(self) -> str:
        """The base URL pyjobs should use (`PYJOBS_ARGO_SERVER`)."""
        return f"http://127.0.0.1:{self.port}"

    # -- life ----------------------------------------------------------------------------

    def up(self) -> None:
        """Listen (again, on the same port)."""
        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._up.set()
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()

    def down(self) -> None:
        """Stop listening and drop every open connection: the server is unreachable."""
        self._up.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self.lock:
            connections, self.connections = list(self.connections), set()
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> FakeArgo:
        self.up()
        return self

    def __exit__(self, *_: object) -> None:
        self.down()

    @property
    def is_up(self) -> bool:
        """Whether it listens now."""
        return self._up.is_set()

    # -- misbehaving on command ----------------------------------------------------------

    def fail_next(
        self,
        status: int,
        message: str,
        method: str | None = None,
        path_contains: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` matching requests with this error."""
        with self.lock:
            self._faults.append(_Fault(status, message, method, path_contains, times))

    def slow_next(
        self, seconds: float, method: str | None = None, path_contains: str | None = None
    ) -> None:
        """Handle the next matching request only after `seconds` (the work still happens)."""
        with self.lock:
            self._faults.append(_Fault(0, "", method, path_contains, 1, seconds))

    def fault_for(self, method: str, path: str) -> _Fault | None:
        with self.lock:
            for fault in self._faults:
                if (fault.method in (None, method)) and (
                    fault.path_contains is None or fault.path_contains in path
                ):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # -- what tests look at --------------------------------------------------------------

    def accepts(self, header: str | None) -> bool:
        """Whether an `Authorization` header carries a token this server honours."""
        with self.lock:
            valid = {f"Bearer {token}" for token in (self.token, *self.also_accepted)}
            if header in valid:
                self.accepted_tokens[header.removeprefix("Bearer ")] += 1
                return True
            self.refused_tokens += 1
            return False

    def seen(self, method: str, path_suffix: str = "") -> list[Seen]:
        """The requests received with this method whose path ends with `path_suffix`."""
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    def workflow(self, name: str) -> FakeWorkflow:
        """A workflow by name."""
        with self.lock:
            return self.workflows[name]

    # -- the API -------------------------------------------------------------------------

    def handle(self, operation: Operation, query: dict[str, list[str]], body: Any) -> Any:
        """Answer one valid request (the log stream is answered by the handler)."""
        params = operation.path_params
        namespace, name = params.get("namespace", ""), params.get("name", "")
        now = time.time()
        match operation.operation_id:
            case "WorkflowService_CreateWorkflow":
                return self._create(namespace, body, now)
            case "WorkflowService_GetWorkflow":
                return self._existing(namespace, name).snapshot(now)
            case "WorkflowService_ListWorkflows":
                wanted = _selector(query.get("listOptions.labelSelector", [""])[0])
                with self.lock:
                    items = [
                        w.snapshot(now)
                        for w in self.workflows.values()
                        if w.manifest["metadata"]["namespace"] == namespace
                        and wanted.items() <= w.manifest["metadata"].get("labels", {}).items()
                    ]
                return {"metadata": {"resourceVersion": "1"}, "items": items}
            case "WorkflowService_StopWorkflow" | "WorkflowService_TerminateWorkflow":
                stop = operation.operation_id == "WorkflowService_StopWorkflow"
                return self._shutdown(namespace, name, "Stop" if stop else "Terminate", now)
            case "WorkflowService_DeleteWorkflow":
                self._existing(namespace, name)
                with self.lock:
                    del self.workflows[name]
                return {}
        raise ArgoError(501, f"{operation.operation_id} is not implemented by the stand-in")

    def _existing(self, namespace: str, name: str) -> FakeWorkflow:
        with self.lock:
            found = self.workflows.get(name)
        if found is None or found.manifest["metadata"]["namespace"] != namespace:
            raise ArgoError(404, f'workflows.argoproj.io "{name}" not found')
        return found

    def _create(self, namespace: str, body: dict[str, Any], now: float) -> dict[str, Any]:
        manifest = body.get("workflow") or {}
        errors = workflow_errors(manifest)
        if errors:
            self.violations.extend(errors)
            raise ArgoError(400, "workflow is not valid: " + "; ".join(errors[:3]))
        metadata = manifest.setdefault("metadata", {})
        if metadata.get("namespace", namespace) != namespace:
            raise ArgoError(400, "the workflow's namespace differs from the request's")
        with self.lock:
            name = metadata.get("name") or metadata["generateName"] + "".join(
                secrets.choice(_ALPHABET) for _ in range(5)
            )
            if name in self.workflows:
                raise ArgoError(409, f'workflows.argoproj.io "{name}" already exists')
            workflow = FakeWorkflow(manifest, Behaviour.of(manifest), self.timing, now)
            metadata |= {
                "name": name,
                "namespace": namespace,
                "uid": workflow.uid,
                "resourceVersion": "1",
                "creationTimestamp": datetime.fromtimestamp(now, UTC).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
            }
            self.workflows[name] = workflow
        return {**manifest, "status": {}}

    def _shutdown(self, namespace: str, name: str, strategy: str, now: float) -> dict[str, Any]:
        workflow = self._existing(namespace, name)
        if workflow.finished(now):
            raise ArgoError(
                500,
                f'cannot shutdown a completed workflow: workflow: "{name}", '
                f'namespace: "{namespace}"',
            )
        with self.lock:
            workflow.ignore_stop = self.ignore_stop
            if workflow.shutdown != "Terminate":
                workflow.shutdown, workflow.shutdown_at = strategy, now
        return workflow.snapshot(now)

    def log_lines(self, namespace: str, name: str, follow: bool) -> Iterator[str]:
        """The NDJSON lines of a workflow's main-container log, following it if asked."""
        workflow = self._existing(namespace, name)
        sent = 0
        while self.is_up:
            now = time.time()
            lines = workflow.log_lines(now)
            for text in lines[sent:]:
                yield json.dumps({"result": {"content": text, "podName": name}}) + "\n"
            sent = len(lines)
            if not follow or workflow.finished(now):
                return
            time.sleep(0.02)


def _selector(text: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in text.split(",") if "=" in item]
    return {key.strip(): value.strip() for key, value in pairs}


@contextmanager
def fake_argo(token: str | None = None, timing: Timing | None = None) -> Iterator[FakeArgo]:
    """A running stand-in for the length of the block."""
    with FakeArgo(token, timing) as fake:
        yield fake
