"""Run status and failure reasons, with the allowed transitions in one place."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """Where a run is in its life: pending → running → succeeded | failed | cancelled."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        """True once the run has ended; a final status never changes again."""
        return self in _FINAL

    def can_become(self, new: RunStatus) -> bool:
        """Whether a run in this status may move to `new`."""
        return new in _TRANSITIONS[self]


_FINAL = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})
_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    # A pending run can fail before it starts (backend error, server restart) or be cancelled.
    RunStatus.PENDING: frozenset({RunStatus.RUNNING, RunStatus.FAILED, RunStatus.CANCELLED}),
    RunStatus.RUNNING: _FINAL,
    RunStatus.SUCCEEDED: frozenset(),
    RunStatus.FAILED: frozenset(),
    RunStatus.CANCELLED: frozenset(),
}


class FailureReason(StrEnum):
    """Why a run failed (or was cancelled); `message` on the run gives the details."""

    EXIT_CODE = "exit_code"  # the code exited with a non-zero status
    SIGNAL = "signal"  # the code was killed by a signal nobody in pyjobs sent
    TIMEOUT = "timeout"  # timeout_seconds passed
    MEMORY = "memory"  # the memory limit killed it
    DEPENDENCY_INSTALL = "dependency_install"  # the environment could not be built
    BACKEND_ERROR = "backend_error"  # the executor or Argo could not run it
    SERVER_RESTART = "server_restart"  # the server died while the run was in flight
    CANCELLED = "cancelled"  # someone asked for it to stop
