"""Terminal output of runs (`pyjobs run`, `submit --follow`): live log, spinner, summary."""

from __future__ import annotations

import itertools
import sys
import threading
import time
from typing import BinaryIO, Protocol, TextIO

from pyjobs.status import FailureReason, RunStatus

# Exit statuses of `pyjobs run` besides the code's own (documented in the README).
EXIT_DEPENDENCY_INSTALL = 97
EXIT_TIMEOUT = 124  # as GNU timeout(1)
EXIT_CANCELLED = 130  # as a shell reports Ctrl-C
EXIT_MEMORY = 137  # as an OOM kill (128 + SIGKILL)
EXIT_BACKEND_ERROR = 70  # EX_SOFTWARE: pyjobs itself could not run the code

_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class RunOutcome(Protocol):
    """What the exit status and summary read of a run: an executor's RunState, the API's RunOut."""

    @property
    def status(self) -> RunStatus:
        """Where the run is."""

    @property
    def reason(self) -> FailureReason | None:
        """Why it failed, if it did."""

    @property
    def message(self) -> str:
        """Details of the outcome."""

    @property
    def exit_code(self) -> int | None:
        """The code's exit status, where known."""

    @property
    def signal(self) -> int | None:
        """The signal that killed the code, where known."""

    @property
    def env_cache_hit(self) -> bool | None:
        """Whether the environment came from the cache (None: no environment yet)."""

    @property
    def setup_seconds(self) -> float | None:
        """Time to get the environment ready."""

    @property
    def run_seconds(self) -> float | None:
        """Time the code ran."""


def exit_status(state: RunOutcome) -> int:
    """The exit status `pyjobs run` ends with for a finished run."""
    if state.status is RunStatus.SUCCEEDED:
        return 0
    if state.status is RunStatus.CANCELLED:
        return EXIT_CANCELLED
    by_reason = {
        FailureReason.TIMEOUT: EXIT_TIMEOUT,
        FailureReason.MEMORY: EXIT_MEMORY,
        FailureReason.DEPENDENCY_INSTALL: EXIT_DEPENDENCY_INSTALL,
        FailureReason.BACKEND_ERROR: EXIT_BACKEND_ERROR,
    }
    if state.reason in by_reason:
        return by_reason[state.reason]
    if state.signal is not None:
        return 128 + state.signal
    return state.exit_code if state.exit_code is not None else EXIT_BACKEND_ERROR


def summary(state: RunOutcome) -> str:
    """One line on how the run went: outcome, environment, setup and run time."""
    env = {True: "env cache hit", False: "env built", None: "no env"}[state.env_cache_hit]
    parts = [f"pyjobs: {state.status}"]
    if state.message:
        parts[0] += f" ({state.message})"
    parts.append(env)
    if state.setup_seconds is not None:
        parts.append(f"setup {state.setup_seconds:.2f}s")
    if state.run_seconds is not None:
        parts.append(f"run {state.run_seconds:.2f}s")
    return " · ".join(parts)


class OutputPane:
    """Writes the run's output; on a terminal, a spinner line while the env is set up."""

    def __init__(self, out: BinaryIO, err: TextIO, label: str, spinner: bool) -> None:
        self._out = out
        self._err = err
        self._label = label
        self._lock = threading.Lock()
        self._spinning = spinner
        self._shown = False
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._spin, daemon=True) if spinner else None
        if self._thread is not None:
            self._thread.start()

    def write(self, chunk: bytes) -> None:
        """Print a chunk of output, keeping the spinner below it."""
        with self._lock:
            self._clear()
            self._out.write(chunk)
            self._out.flush()

    def setup_done(self) -> None:
        """The environment is ready: stop and clear the spinner."""
        with self._lock:
            self._spinning = False
            self._clear()

    def _clear(self) -> None:
        if self._shown:
            self._err.write("\r\033[K")
            self._err.flush()
            self._shown = False

    def _spin(self) -> None:
        for frame in itertools.cycle(_FRAMES):
            with self._lock:
                if not self._spinning:
                    return
                elapsed = time.monotonic() - self._started
                self._err.write(f"\r\033[K{frame} {self._label} ({elapsed:.0f}s)")
                self._err.flush()
                self._shown = True
            time.sleep(0.1)


def stdout_pane(label: str) -> OutputPane:
    """An output pane on this process's stdout/stderr; spinner only on a terminal."""
    return OutputPane(sys.stdout.buffer, sys.stderr, label, spinner=sys.stderr.isatty())
