"""Argo workflow statuses read as pyjobs statuses and reasons."""

from __future__ import annotations

from typing import Any

import pytest

from pyjobs.executors.argo_phases import observe
from pyjobs.status import FailureReason, RunStatus


def workflow(
    phase: str = "",
    node_phase: str | None = None,
    *,
    message: str = "",
    node_message: str = "",
    exit_code: str | None = None,
    shutdown: str | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase} if phase else {}
    if message:
        status["message"] = message
    if node_phase is not None:
        node: dict[str, Any] = {"id": "wf", "name": "wf", "type": "Pod", "phase": node_phase}
        node |= {"startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:00:07Z"}
        if node_message:
            node["message"] = node_message
        if exit_code is not None:
            node["outputs"] = {"exitCode": exit_code}
        status["nodes"] = {"wf": node}
    spec: dict[str, Any] = {"shutdown": shutdown} if shutdown else {}
    return {"metadata": {"name": "wf"}, "spec": spec, "status": status}


@pytest.mark.parametrize(
    ("argo", "status", "reason", "exit_code"),
    [
        (workflow(), RunStatus.PENDING, None, None),
        (workflow("Pending"), RunStatus.PENDING, None, None),
        (workflow("Running", "Pending"), RunStatus.PENDING, None, None),
        (workflow("Running", "Running"), RunStatus.RUNNING, None, None),
        (workflow("Succeeded", "Succeeded", exit_code="0"), RunStatus.SUCCEEDED, None, 0),
        (
            workflow("Failed", "Failed", message="main: Error (exit code 3)", exit_code="3"),
            RunStatus.FAILED,
            FailureReason.EXIT_CODE,
            3,
        ),
        (
            workflow("Failed", "Failed", message="main: Error (exit code 97)", exit_code="97"),
            RunStatus.FAILED,
            FailureReason.DEPENDENCY_INSTALL,
            97,
        ),
        (
            workflow(
                "Failed", "Failed", node_message="main: OOMKilled (exit code 137)", exit_code="137"
            ),
            RunStatus.FAILED,
            FailureReason.MEMORY,
            137,
        ),
        (
            workflow("Failed", "Failed", message="Step exceeded its deadline"),
            RunStatus.FAILED,
            FailureReason.TIMEOUT,
            None,
        ),
        (
            workflow(
                "Failed",
                "Failed",
                node_message="Pod was active on the node longer than the specified deadline",
            ),
            RunStatus.FAILED,
            FailureReason.TIMEOUT,
            None,
        ),
        (
            workflow(
                "Failed",
                "Failed",
                message="Stopped with strategy 'Stop'",
                exit_code="143",
                shutdown="Stop",
            ),
            RunStatus.CANCELLED,
            FailureReason.CANCELLED,
            143,
        ),
        (
            workflow(
                "Error",
                "Error",
                message="Pod failed before main container starts due to ErrImagePull: x",
            ),
            RunStatus.FAILED,
            FailureReason.BACKEND_ERROR,
            None,
        ),
        (
            workflow("Error", message="invalid spec: templates.main: bad"),
            RunStatus.FAILED,
            FailureReason.BACKEND_ERROR,
            None,
        ),
    ],
)
def test_phases_map_to_statuses_and_reasons(
    argo: dict[str, Any],
    status: RunStatus,
    reason: FailureReason | None,
    exit_code: int | None,
) -> None:
    seen = observe(argo)
    assert (seen.status, seen.reason, seen.exit_code) == (status, reason, exit_code)


def test_a_waiting_pod_says_why() -> None:
    seen = observe(workflow("Running", "Pending", node_message="Unschedulable: 0/3 nodes"))
    assert (seen.status, seen.message) == (RunStatus.PENDING, "Unschedulable: 0/3 nodes")


def test_times_come_from_the_pod_node() -> None:
    seen = observe(workflow("Succeeded", "Succeeded", exit_code="0"))
    assert seen.run_seconds == 7.0
    assert seen.started_at is not None
