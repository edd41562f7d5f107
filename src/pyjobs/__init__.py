"""pyjobs: run Python code with the pip packages it needs as isolated jobs."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
from pyjobs.script import build_script_source
from pyjobs.spec import TaskSpec

if TYPE_CHECKING:
    from pyjobs.hera_api import (
        create_workflow_with_hera,
        wait_for_workflow,
        workflow_logs,
        workflow_state,
    )

# Hera takes about a second to import: only what uses it pays for it (`pyjobs status`,
# `import pyjobs` for the client do not).
_LAZY = {
    "create_workflow_with_hera": "pyjobs.hera_api",
    "wait_for_workflow": "pyjobs.hera_api",
    "workflow_logs": "pyjobs.hera_api",
    "workflow_state": "pyjobs.hera_api",
}

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


def __getattr__(name: str) -> Any:
    """Import the Hera-backed functions on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pyjobs' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, those imported lazily included."""
    return sorted(set(globals()) | set(__all__))
