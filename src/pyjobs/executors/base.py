"""The executor interface: start a run, watch it, read its logs, stop it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from pyjobs.spec import TaskSpec
from pyjobs.status import FailureReason, RunStatus


@dataclass(frozen=True)
class RunRequest:
    """One run to start: the task and the very workflow built for it."""

    run_id: str
    spec: TaskSpec
    manifest: Mapping[str, Any]
    # The name to give the workflow when the caller has already chosen one.
    workflow_name: str | None = None


@dataclass(frozen=True)
class RunState:
    """What an executor knows of a run at one moment."""

    run_id: str
    workflow_name: str
    status: RunStatus = RunStatus.PENDING
    reason: FailureReason | None = None
    message: str = ""
    exit_code: int | None = None
    signal: int | None = None
    env_cache_hit: bool | None = None
    setup_seconds: float | None = None
    run_seconds: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    limits: tuple[str, ...] = field(default=())

    def moved(self, **changes: Any) -> RunState:
        """A copy with changes; a status change must be an allowed transition."""
        new_status = changes.get("status", self.status)
        if new_status != self.status and not self.status.can_become(new_status):
            raise ValueError(f"run {self.run_id}: {self.status} cannot become {new_status}")
        return replace(self, **changes)


StateListener = Callable[[RunState], None]


class Executor(Protocol):
    """Runs tasks somewhere; every method is safe to call from any thread."""

    def submit(self, request: RunRequest) -> RunState:
        """Accept a run; it starts when there is room. Returns its pending state."""
        ...

    def attach(self, request: RunRequest) -> RunState:
        """Follow again a run an earlier server started, its workflow `request.workflow_name`.

        Only backends whose runs outlive the server (`Backend.runs_outlive_server`) can;
        the others raise `RunNotFoundError`.
        """
        ...

    def state(self, run_id: str) -> RunState:
        """The run's current state; `RunNotFoundError` if unknown."""
        ...

    def logs(self, run_id: str, follow: bool = False) -> Iterator[bytes]:
        """The run's output so far, then (with `follow`) as it comes until the run ends."""
        ...

    def cancel(self, run_id: str) -> RunState:
        """Stop the run (its whole process tree); a no-op once it has ended."""
        ...

    def wait(self, run_id: str, timeout: float | None = None) -> RunState:
        """Block until the run ends (or `timeout` passes) and return its state."""
        ...

    def close(self) -> None:
        """Stop taking runs, end following the active ones and release resources.

        Runs that die with the server (local) are cancelled; runs that outlive it (Argo)
        go on, for the next server to re-attach.
        """
        ...
