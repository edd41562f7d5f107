"""The API's response models, shared with the Python client."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from pyjobs.status import FailureReason, RunStatus

T = TypeVar("T")


class ApiModel(BaseModel):
    """Base of response models: read from ORM rows, tolerant of new fields on read."""

    model_config = ConfigDict(from_attributes=True, extra="ignore")


class SubmitResponse(ApiModel):
    """What submit and re-run answer: the task, the run started, its workflow."""

    id: str
    run_number: int
    workflow_id: str | None = Field(
        description="The workflow's name; null until the backend has accepted the run."
    )
    status: RunStatus


class RunOut(ApiModel):
    """One run of a task."""

    number: int
    status: RunStatus
    reason: FailureReason | None = None
    message: str = ""
    exit_code: int | None = None
    signal: int | None = None
    workflow_name: str | None = None
    backend: str
    env_cache_hit: bool | None = None
    setup_seconds: float | None = None
    run_seconds: float | None = None
    limits: list[str] = Field(default_factory=list, description="Limits really enforced.")
    cancel_requested: bool = False
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    spec: dict[str, Any] = Field(description="The snapshot of the task this run executed.")


class TaskSummary(ApiModel):
    """A task in a listing."""

    id: str
    status: RunStatus
    latest_run: int
    created_at: datetime
    title: str = Field(description="The code's first non-blank line, cut at 80 characters.")
    dependencies: list[str]


class TaskOut(ApiModel):
    """A task with its request and every run."""

    id: str
    status: RunStatus
    latest_run: int
    created_at: datetime
    spec: dict[str, Any]
    runs: list[RunOut]


class Page(ApiModel, Generic[T]):
    """One page of a listing; pass `next_cursor` back as `cursor` for the next."""

    data: list[T]
    next_cursor: str | None = None


class ErrorBody(BaseModel):
    """The body of every error answer."""

    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    """`{"error": {"code", "message", "field"}}`."""

    error: ErrorBody


def title_of(code: str) -> str:
    """The first non-blank line of the code, cut at 80 characters."""
    line = next((line.strip() for line in code.splitlines() if line.strip()), "")
    return line if len(line) <= 80 else line[:79] + "…"
