"""pyjobs: run Python code with the pip packages it needs as isolated jobs."""

from pyjobs.client import Client
from pyjobs.errors import (
    ApiError,
    ConflictError,
    FieldError,
    ForbiddenError,
    InvalidTaskError,
    NotFoundError,
    PayloadTooLargeError,
    PyjobsError,
    ServerUnreachableError,
    UnauthorizedError,
    WaitTimeoutError,
)
from pyjobs.hera_api import (
    create_workflow_with_hera,
    wait_for_workflow,
    workflow_logs,
    workflow_state,
)
from pyjobs.script import build_script_source
from pyjobs.spec import TaskSpec

__all__ = [
    "ApiError",
    "Client",
    "ConflictError",
    "FieldError",
    "ForbiddenError",
    "InvalidTaskError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PyjobsError",
    "ServerUnreachableError",
    "TaskSpec",
    "UnauthorizedError",
    "WaitTimeoutError",
    "build_script_source",
    "create_workflow_with_hera",
    "wait_for_workflow",
    "workflow_logs",
    "workflow_state",
]
