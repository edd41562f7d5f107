"""What every executor keeps about its runs: each by id, with its state, log and end."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

from pyjobs.errors import RunNotFoundError
from pyjobs.executors.base import RunState
from pyjobs.executors.runlog import RunLog, read_log


class TrackedRun(Protocol):
    """The parts of an executor's run record the shared bookkeeping reads."""

    @property
    def state(self) -> RunState:
        """The run's current state."""
        ...

    @property
    def log(self) -> RunLog:
        """Its log, written while it lasts."""
        ...

    @property
    def ended(self) -> threading.Event:
        """Set once the run has reached its final state."""
        ...


R = TypeVar("R", bound=TrackedRun)


class RunBook(Generic[R]):
    """Runs by id under one lock, and the executor methods that only read them."""

    def __init__(self) -> None:
        self._runs: dict[str, R] = {}
        self._lock = threading.Lock()

    def state(self, run_id: str) -> RunState:
        """The run's current state; `RunNotFoundError` if unknown."""
        return self._get(run_id).state

    def logs(self, run_id: str, follow: bool = False) -> Iterator[bytes]:
        """The run's output so far; with `follow`, then as it comes until the run ends."""
        run = self._get(run_id)
        if follow and not run.ended.is_set():
            return run.log.follow()
        return read_log(run.log.path)

    def wait(self, run_id: str, timeout: float | None = None) -> RunState:
        """Block until the run ends or `timeout` passes; return its state."""
        run = self._get(run_id)
        run.ended.wait(timeout)
        return run.state

    def _get(self, run_id: str) -> R:
        with self._lock:
            run = self._runs.get(run_id)
        if run is None:
            raise RunNotFoundError(run_id)
        return run
