"""The Argo Server's REST API through Hera's `WorkflowsService`, with pyjobs' errors.

Every call either returns plain JSON-like dicts or raises one of two errors:
`BackendUnavailableError` (unreachable, timed out, HTTP 5xx/408/429: try again later) or
`BackendRejectedError` (any other 4xx: the same request will be refused again).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from hera.exceptions import HeraException
from hera.workflows import WorkflowsService
from hera.workflows import models as m

from pyjobs.errors import BackendRejectedError, BackendUnavailableError
from pyjobs.executors.argo_token import ArgoToken

BACKEND = "Argo Server"
# Argo's words when asked to stop or terminate a workflow that has already completed.
ALREADY_COMPLETED = "cannot shutdown a completed workflow"
_RETRYABLE_4XX = frozenset({408, 429})
_HERA_MESSAGE = re.compile(r"status code (\d+) with message: `(.*)`\Z", re.DOTALL)

T = TypeVar("T")


class _Service(WorkflowsService):
    """Hera's service with a timeout and a current token on every request.

    Hera sets no timeout (a hung server hangs) and keeps the token it was given.
    """

    def __init__(self, *, timeout: float, source: ArgoToken, **options: Any) -> None:
        self.source = source
        super().__init__(**options)
        self.timeout = timeout

    @property
    def token(self) -> str | None:
        """The `Authorization` header of the next request, as Hera reads it for each call."""
        return self.source.header()

    @token.setter
    def token(self, _ignored: str | None) -> None:
        """Hera's constructor sets a token once; the source answers instead."""

    def _request(self, method: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        return self.session.request(method, **kwargs)


# Hera's service serialises bodies with pydantic's v1 `json()`, deprecated under pydantic 2
# (a warning on every call); these requests answer it with `model_dump_json`.
class _CreateRequest(m.WorkflowCreateRequest):
    def json(self, **options: Any) -> str:
        return self.model_dump_json(**options)


class _StopRequest(m.WorkflowStopRequest):
    def json(self, **options: Any) -> str:
        return self.model_dump_json(**options)


class _TerminateRequest(m.WorkflowTerminateRequest):
    def json(self, **options: Any) -> str:
        return self.model_dump_json(**options)


def _plain(model: m.Workflow) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def _translated(error: Exception) -> BackendRejectedError | BackendUnavailableError:
    """Hera's or requests' exception as one of pyjobs' two backend errors."""
    if isinstance(error, HeraException):
        found = _HERA_MESSAGE.search(str(error))
        status = int(found.group(1)) if found else 500
        message = found.group(2) if found else str(error)
        if status >= 500 or status in _RETRYABLE_4XX:
            return BackendUnavailableError(BACKEND, f"HTTP {status}: {message}")
        return BackendRejectedError(BACKEND, status, message)
    # requests' errors are OSErrors; a malformed answer surfaces as ValueError or KeyError.
    return BackendUnavailableError(BACKEND, f"{type(error).__name__}: {error}")


class ArgoClient:
    """The few Argo Server calls pyjobs makes, for one server and token."""

    def __init__(
        self, server: str, token: ArgoToken, *, verify_ssl: bool = True, timeout: float = 30.0
    ) -> None:
        # urljoin drops the last path segment of a base without a trailing slash.
        host = server if server.endswith("/") else f"{server}/"
        self._service = _Service(host=host, source=token, verify_ssl=verify_ssl, timeout=timeout)

    def _call(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except (HeraException, OSError, ValueError, KeyError) as error:
            raise _translated(error) from error

    def create(self, namespace: str, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Create the workflow; Argo answers it with its name filled in and an empty status."""
        request = _CreateRequest(workflow=m.Workflow.model_validate(dict(manifest)))
        created = self._call(lambda: self._service.create_workflow(request, namespace=namespace))
        return _plain(created)

    def get(self, namespace: str, name: str) -> dict[str, Any]:
        """The workflow as it is now (its status included)."""
        return _plain(self._call(lambda: self._service.get_workflow(name, namespace=namespace)))

    def find(self, namespace: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        """The workflows that carry all these labels."""
        selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
        found = self._call(
            lambda: self._service.list_workflows(namespace=namespace, label_selector=selector)
        )
        return [_plain(item) for item in found.items or []]

    def stop(self, namespace: str, name: str) -> bool:
        """Ask the workflow to stop; False when it had already completed."""
        request = _StopRequest(name=name, namespace=namespace)
        return self._shutdown(lambda: self._service.stop_workflow(name, request, namespace))

    def terminate(self, namespace: str, name: str) -> bool:
        """End the workflow at once; False when it had already completed."""
        request = _TerminateRequest(name=name, namespace=namespace)
        return self._shutdown(lambda: self._service.terminate_workflow(name, request, namespace))

    def _shutdown(self, call: Callable[[], m.Workflow]) -> bool:
        try:
            self._call(call)
        except BackendUnavailableError as error:
            # Argo answers HTTP 500 for this one: it is "already ended", not a failure.
            if ALREADY_COMPLETED in error.reason:
                return False
            raise
        return True

    def close(self) -> None:
        """Release the HTTP session."""
        self._service.session.close()
