"""What an Argo Workflow's status means for a pyjobs run: status, reason, exit code.

A task's workflow has one template, so one pod node. Its `outputs.exitCode` is the exit
status of the job script; Argo's messages tell a deadline ("Step exceeded its deadline")
and the kernel's OOM killer ("main: OOMKilled (exit code 137)") apart from an exit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pyjobs.script import SETUP_FAILED_EXIT_CODE
from pyjobs.status import FailureReason, RunStatus

# Node phases of a pod that has started its containers (or ended after starting them).
_POD_STARTED = frozenset({"Running", "Succeeded", "Failed"})
_FAILED = frozenset({"Failed", "Error"})
# Argo's messages: the workflow's deadline, a template's, the kubelet's for a pod's.
_DEADLINE_MARKERS = ("exceeded its deadline", "longer than the specified deadline")
_OOM_MARKER = "OOMKilled"
_STOPPED_PREFIX = "Stopped with strategy"


@dataclass(frozen=True)
class Observation:
    """One reading of a workflow, in pyjobs' terms."""

    status: RunStatus
    reason: FailureReason | None = None
    message: str = ""
    exit_code: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    run_seconds: float | None = None


def _timestamp(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _exit_code(node: Mapping[str, Any] | None) -> int | None:
    if node is None:
        return None
    value = (node.get("outputs") or {}).get("exitCode")
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _pod_node(status: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The workflow's pod node: the failed one if any, else the latest started."""
    pods = [n for n in (status.get("nodes") or {}).values() if n.get("type") == "Pod"]
    if not pods:
        return None
    failed = [n for n in pods if n.get("phase") in _FAILED]
    chosen: Mapping[str, Any] = max(failed or pods, key=lambda n: n.get("startedAt") or "")
    return chosen


def _failure(
    workflow: Mapping[str, Any], message: str, pod: Mapping[str, Any] | None
) -> tuple[RunStatus, FailureReason, int | None]:
    pod_message = (pod or {}).get("message") or ""
    texts = (message, pod_message)
    exit_code = _exit_code(pod)
    if (workflow.get("spec") or {}).get("shutdown") or message.startswith(_STOPPED_PREFIX):
        return RunStatus.CANCELLED, FailureReason.CANCELLED, exit_code
    if any(marker in text for marker in _DEADLINE_MARKERS for text in texts):
        return RunStatus.FAILED, FailureReason.TIMEOUT, exit_code
    if any(_OOM_MARKER in text for text in texts):
        return RunStatus.FAILED, FailureReason.MEMORY, exit_code
    if exit_code == SETUP_FAILED_EXIT_CODE:
        return RunStatus.FAILED, FailureReason.DEPENDENCY_INSTALL, exit_code
    if exit_code is not None and exit_code != 0:
        return RunStatus.FAILED, FailureReason.EXIT_CODE, exit_code
    # No exit status: the pod never ran it (image, scheduling, an invalid spec).
    return RunStatus.FAILED, FailureReason.BACKEND_ERROR, exit_code


def observe(workflow: Mapping[str, Any]) -> Observation:
    """Read a workflow (as the Argo Server returns it) as a run's status and reason."""
    status: Mapping[str, Any] = workflow.get("status") or {}
    phase = status.get("phase") or ""
    pod = _pod_node(status)
    message = status.get("message") or ""
    pod_started = pod is not None and pod.get("phase") in _POD_STARTED
    started_at = _timestamp((pod or {}).get("startedAt")) if pod_started else None
    finished_at = _timestamp(status.get("finishedAt"))
    pod_finished = _timestamp((pod or {}).get("finishedAt"))
    run_seconds = (
        pod_finished - started_at if pod_finished is not None and started_at is not None else None
    )
    if phase == "Succeeded":
        return Observation(
            RunStatus.SUCCEEDED,
            exit_code=_exit_code(pod) or 0,
            started_at=started_at,
            finished_at=finished_at,
            run_seconds=run_seconds,
        )
    if phase in _FAILED:
        run_status, reason, exit_code = _failure(workflow, message, pod)
        return Observation(
            run_status,
            reason,
            message or (pod or {}).get("message") or f"workflow {phase.lower()}",
            exit_code,
            started_at,
            finished_at,
            run_seconds,
        )
    if pod_started:
        return Observation(RunStatus.RUNNING, started_at=started_at)
    # Not started yet: say why when Argo says (unschedulable, pulling the image, ...).
    waiting = (pod or {}).get("message") or message
    return Observation(RunStatus.PENDING, message=waiting)
