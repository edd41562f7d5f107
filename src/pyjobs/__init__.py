"""pyjobs: run Python code with the pip packages it needs as isolated jobs."""

from pyjobs.errors import FieldError, InvalidTaskError, PyjobsError
from pyjobs.hera_api import (
    create_workflow_with_hera,
    wait_for_workflow,
    workflow_logs,
    workflow_state,
)
from pyjobs.script import build_script_source
from pyjobs.spec import TaskSpec

__all__ = [
    "FieldError",
    "InvalidTaskError",
    "PyjobsError",
    "TaskSpec",
    "build_script_source",
    "create_workflow_with_hera",
    "wait_for_workflow",
    "workflow_logs",
    "workflow_state",
]
