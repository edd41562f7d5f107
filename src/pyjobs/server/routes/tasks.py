"""Task routes: HTTP in, a service call, HTTP out — nothing else."""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import AsyncIterator
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import PlainTextResponse, StreamingResponse

from pyjobs.executors.runlog import log_path
from pyjobs.server.deps import (
    IDEMPOTENCY_KEY,
    PrincipalDep,
    ServiceDep,
    idempotency_key_of,
    principal_of,
    service_of,
)
from pyjobs.server.routes.direct import DirectRoute
from pyjobs.server.routes.specbody import OPENAPI_BODY, read_spec
from pyjobs.server.schemas import ErrorResponse, Page, SubmitResponse, TaskOut, TaskSummary
from pyjobs.server.service import TaskService
from pyjobs.spec import TaskSpec
from pyjobs.status import RunStatus

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse}
    for code in (
        status.HTTP_401_UNAUTHORIZED,
        status.HTTP_403_FORBIDDEN,
        status.HTTP_404_NOT_FOUND,
        status.HTTP_409_CONFLICT,
        status.HTTP_413_CONTENT_TOO_LARGE,
        status.HTTP_422_UNPROCESSABLE_CONTENT,
    )
}
_YAML: dict[int | str, dict[str, Any]] = {200: {"content": {"application/yaml": {}}}}
_CHUNK = 64 * 1024
_FOLLOW_POLL = 0.25

router = APIRouter(prefix="/api/v1", responses=_ERRORS)


async def submit(request: Request) -> Response:
    """Validate and store a task, and start its first run."""
    principal = await principal_of(request)  # first: 401 before anything about the body
    key = idempotency_key_of(request)
    spec = await read_spec(request)
    answer = await service_of(request).submit(principal, spec, key)
    return Response(
        answer.model_dump_json(), status.HTTP_201_CREATED, media_type="application/json"
    )


# The busiest route reads its body, caller and header itself (see specbody, deps) and
# answers a ready response: it is served as a DirectRoute.
router.add_api_route(
    "/tasks/submit",
    submit,
    methods=["POST"],
    status_code=status.HTTP_201_CREATED,
    tags=["tasks"],
    response_model=SubmitResponse,
    openapi_extra={**OPENAPI_BODY, "parameters": [IDEMPOTENCY_KEY]},
    route_class_override=DirectRoute,
)


@router.post("/tasks/{task_id}/run", status_code=status.HTTP_201_CREATED, tags=["tasks"])
def rerun(task_id: str, service: ServiceDep, principal: PrincipalDep) -> SubmitResponse:
    """Start a new run of the task (409 while one is active)."""
    return service.rerun(principal, task_id)


@router.get("/tasks", tags=["tasks"])
def list_tasks(
    service: ServiceDep,
    principal: PrincipalDep,
    status_: Annotated[RunStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[TaskSummary]:
    """Tasks, newest first; pass `next_cursor` as `cursor` for the next page."""
    return service.list(principal, status_, limit, cursor)


@router.get("/tasks/{task_id}", tags=["tasks"])
def get_task(task_id: str, service: ServiceDep, principal: PrincipalDep) -> TaskOut:
    """The task with its runs."""
    return service.get(principal, task_id)


@router.post("/tasks/{task_id}/cancel", tags=["tasks"])
def cancel(task_id: str, service: ServiceDep, principal: PrincipalDep) -> TaskOut:
    """Cancel the task's active run (a no-op once it has ended)."""
    return service.cancel(principal, task_id)


@router.delete("/tasks/{task_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["tasks"])
def delete(task_id: str, service: ServiceDep, principal: PrincipalDep) -> Response:
    """Delete the task, its runs and their logs (an active run is cancelled first)."""
    service.delete(principal, task_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/tasks/{task_id}/manifest", response_class=PlainTextResponse, responses=_YAML, tags=["tasks"]
)
def manifest(
    task_id: str,
    service: ServiceDep,
    principal: PrincipalDep,
    run: Annotated[int | None, Query(ge=1)] = None,
) -> PlainTextResponse:
    """The Argo Workflow YAML of a run (default the latest)."""
    text = service.manifest(principal, task_id, run)
    return PlainTextResponse(text, media_type="application/yaml")


@router.post(
    "/manifests/preview", response_class=PlainTextResponse, responses=_YAML, tags=["tasks"]
)
def preview(spec: TaskSpec, service: ServiceDep, principal: PrincipalDep) -> PlainTextResponse:
    """The Argo Workflow YAML a submit would produce, without running anything."""
    return PlainTextResponse(service.preview(spec), media_type="application/yaml")


@router.get(
    "/tasks/{task_id}/logs",
    response_class=StreamingResponse,
    tags=["tasks"],
    responses={200: {"content": {"text/plain": {}}}},
)
async def logs(
    task_id: str,
    service: ServiceDep,
    principal: PrincipalDep,
    run: Annotated[int | None, Query(ge=1)] = None,
    follow: bool = False,
) -> StreamingResponse:
    """A run's output (default the latest run); with `follow=true`, streamed until it ends."""
    record = await to_thread.run_sync(service.run_of, principal, task_id, run)
    path = log_path(service.settings.home_dir, record.id)
    stream = _stream_log(service, record.id, str(path), follow)
    return StreamingResponse(
        stream,
        media_type="text/plain; charset=utf-8",
        headers={
            "X-Run-Number": str(record.number),
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        },
    )


def _read_from(path: str, offset: int) -> bytes:
    try:
        with open(path, "rb") as file:
            file.seek(offset)
            return file.read(_CHUNK)
    except FileNotFoundError:
        return b""


async def _stream_log(
    service: TaskService, run_id: str, path: str, follow: bool
) -> AsyncIterator[str]:
    """The log in chunks read off the event loop; invalid UTF-8 becomes U+FFFD."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    offset = 0
    while True:
        chunk = await to_thread.run_sync(_read_from, path, offset)
        if chunk:
            offset += len(chunk)
            yield decoder.decode(chunk)
            continue
        if not follow:
            break
        current = await to_thread.run_sync(service.run_status, run_id)
        if current is None or current.is_final:
            # One last read: output written between our read and the status check.
            while chunk := await to_thread.run_sync(_read_from, path, offset):
                offset += len(chunk)
                yield decoder.decode(chunk)
            break
        await asyncio.sleep(_FOLLOW_POLL)
    yield decoder.decode(b"", final=True)
