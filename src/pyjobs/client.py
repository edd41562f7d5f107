"""`pyjobs.Client`: a pyjobs server's REST API from Python, with the server's own models."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from importlib.metadata import version
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from pyjobs.apierrors import error_from, unreachable
from pyjobs.config import Settings
from pyjobs.errors import InvalidTaskError, NotFoundError, WaitTimeoutError
from pyjobs.server.schemas import Page, SubmitResponse, TaskOut, TaskSummary
from pyjobs.spec import TaskSpec
from pyjobs.status import RunStatus

__all__ = ["Client"]

DEFAULT_TIMEOUT = 30.0
CONNECT_TIMEOUT = 10.0
MAX_PAGE_SIZE = 500  # the server's own cap on `limit`
DEFAULT_PAGE_SIZE = 100


class Client:
    """A pyjobs server's REST API; failures raise the classes of `pyjobs.errors`.

    `url` and `token` default to `PYJOBS_URL` and `PYJOBS_TOKEN`. Use it as a context
    manager, or call `close()`, to release its connections.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if url is None or token is None:
            settings = Settings()
            url = settings.url if url is None else url
            if token is None and settings.token is not None:
                token = settings.token.get_secret_value()
        self.url = url.rstrip("/")
        headers = {"User-Agent": f"pyjobs/{version('pyjobs')}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))
        # Following a log waits as long as the run lasts: no read timeout then.
        self._follow_timeout = httpx.Timeout(timeout, connect=self._timeout.connect, read=None)
        self._http = httpx.Client(
            base_url=f"{self.url}/api/v1",
            headers=headers,
            timeout=self._timeout,
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the client's connections."""
        self._http.close()

    def submit(
        self,
        code: str | TaskSpec,
        *,
        dependencies: str | Sequence[str] | None = None,
        requirements_file: str | None = None,
        timeout_seconds: int | None = None,
        memory_mb: int | None = None,
        cpu: float | None = None,
        env: Mapping[str, str] | None = None,
        network: bool | None = None,
        namespace: str | None = None,
        idempotency_key: str | None = None,
    ) -> SubmitResponse:
        """Submit a task (code and options, or a `TaskSpec`) and start its first run.

        The task is validated here first: bad input raises `InvalidTaskError` naming the
        field, as the server would, without sending anything. A retry with the same
        `idempotency_key` returns the task the first attempt created.
        """
        spec = _spec(
            code,
            dependencies=dependencies,
            requirements_file=requirements_file,
            timeout_seconds=timeout_seconds,
            memory_mb=memory_mb,
            cpu=cpu,
            env=env,
            network=network,
            namespace=namespace,
        )
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        response = self._request("POST", "/tasks/submit", json=_body(spec), headers=headers)
        return SubmitResponse.model_validate(response.json())

    def preview(
        self,
        code: str | TaskSpec,
        *,
        dependencies: str | Sequence[str] | None = None,
        requirements_file: str | None = None,
        timeout_seconds: int | None = None,
        memory_mb: int | None = None,
        cpu: float | None = None,
        env: Mapping[str, str] | None = None,
        network: bool | None = None,
        namespace: str | None = None,
    ) -> str:
        """The Argo Workflow YAML the server would run this task as; nothing is stored."""
        spec = _spec(
            code,
            dependencies=dependencies,
            requirements_file=requirements_file,
            timeout_seconds=timeout_seconds,
            memory_mb=memory_mb,
            cpu=cpu,
            env=env,
            network=network,
            namespace=namespace,
        )
        return self._request("POST", "/manifests/preview", json=_body(spec)).text

    def get(self, task_id: str) -> TaskOut:
        """The task with every run; `NotFoundError` if it is unknown (or not yours)."""
        return TaskOut.model_validate(self._request("GET", _task_path(task_id)).json())

    def rerun(self, task_id: str) -> SubmitResponse:
        """Start a new run of the task; `ConflictError` while one is active."""
        response = self._request("POST", _task_path(task_id, "run"))
        return SubmitResponse.model_validate(response.json())

    def cancel(self, task_id: str) -> TaskOut:
        """Cancel the task's active run (nothing happens once it has ended)."""
        return TaskOut.model_validate(self._request("POST", _task_path(task_id, "cancel")).json())

    def delete(self, task_id: str) -> None:
        """Delete the task, its runs and their logs (cancelling an active run first)."""
        self._request("DELETE", _task_path(task_id))

    def manifest(self, task_id: str, run: int | None = None) -> str:
        """The Argo Workflow YAML of a run (default the latest)."""
        params = {"run": _run_number(run)} if run is not None else None
        return self._request("GET", _task_path(task_id, "manifest"), params=params).text

    def logs(self, task_id: str, run: int | None = None, follow: bool = False) -> Iterator[str]:
        """A run's output (default the latest) as text chunks; with `follow`, until it ends.

        The request is made when iteration starts; errors are raised from there.
        """
        params: dict[str, Any] = {"follow": "true" if follow else "false"}
        if run is not None:
            params["run"] = _run_number(run)
        path = _task_path(task_id, "logs")
        return self._stream(path, params, self._follow_timeout if follow else self._timeout)

    def wait(self, task_id: str, timeout: float | None = None, poll: float = 0.5) -> TaskOut:
        """Poll until the task's latest run has ended and return the task.

        Raise `WaitTimeoutError` (a `TimeoutError`) when `timeout` seconds pass first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            task = self.get(task_id)
            if task.status.is_final:
                return task
            pause = poll
            if deadline is not None and timeout is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeoutError(task_id, timeout)
                pause = min(poll, remaining)
            time.sleep(pause)

    def list_page(
        self,
        status: RunStatus | str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[TaskSummary]:
        """One page of tasks, newest first; pass its `next_cursor` as `cursor` for the next."""
        params: dict[str, Any] = {"limit": _page_size(limit)}
        if status is not None:
            params["status"] = _status(status).value
        if cursor is not None:
            params["cursor"] = cursor
        response = self._request("GET", "/tasks", params=params)
        return Page[TaskSummary].model_validate(response.json())

    def list(
        self,
        status: RunStatus | str | None = None,
        limit: int | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[TaskSummary]:
        """Every task (at most `limit`), newest first, fetching pages as iteration needs them."""
        wanted = _status(status) if status is not None else None
        if limit is not None and limit < 0:
            raise InvalidTaskError.single("limit", "must be 0 or more")
        return self._pages(wanted, limit, _page_size(page_size))

    def _pages(
        self, status: RunStatus | None, limit: int | None, page_size: int
    ) -> Iterator[TaskSummary]:
        left = limit
        cursor: str | None = None
        while left is None or left > 0:
            size = page_size if left is None else min(page_size, left)
            page = self.list_page(status, size, cursor)
            yield from page.data
            if left is not None:
                left -= len(page.data)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def _stream(self, path: str, params: dict[str, Any], timeout: httpx.Timeout) -> Iterator[str]:
        try:
            with self._http.stream("GET", path, params=params, timeout=timeout) as response:
                if response.is_error:
                    response.read()
                    raise error_from(response)
                yield from response.iter_text()
        except httpx.TransportError as error:
            raise unreachable(self.url, error) from error

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        try:
            response = self._http.request(method, path, json=json, params=params, headers=headers)
        except httpx.TransportError as error:
            raise unreachable(self.url, error) from error
        if response.is_error:
            raise error_from(response)
        return response


def _spec(code: str | TaskSpec, **options: Any) -> TaskSpec:
    given = {name: value for name, value in options.items() if value is not None}
    if isinstance(code, TaskSpec):
        if given:
            raise TypeError(f"options cannot be combined with a TaskSpec: {', '.join(given)}")
        return code
    return TaskSpec.parse({"python_code": code, **given})


def _body(spec: TaskSpec) -> dict[str, Any]:
    # Unset optional fields are left out so that the server's defaults (namespace) apply.
    return spec.model_dump(mode="json", exclude_none=True)


def _task_path(task_id: str, action: str | None = None) -> str:
    # An id is one path segment: "a/logs" or ".." must not reach another route (servers
    # decode %2F before routing), and no task has such an id.
    if "/" in task_id or task_id in ("", ".", ".."):
        raise NotFoundError("task", task_id)
    path = f"/tasks/{quote(task_id, safe='')}"
    return f"{path}/{action}" if action else path


def _run_number(run: int) -> int:
    if isinstance(run, bool) or not isinstance(run, int) or run < 1:
        raise InvalidTaskError.single("run", "must be a run number, 1 or more")
    return run


def _page_size(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidTaskError.single("limit", f"must be from 1 to {MAX_PAGE_SIZE}")
    return limit


def _status(status: RunStatus | str) -> RunStatus:
    try:
        return RunStatus(status)
    except ValueError:
        allowed = ", ".join(s.value for s in RunStatus)
        raise InvalidTaskError.single("status", f"must be one of {allowed}") from None
