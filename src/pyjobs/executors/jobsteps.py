"""The sandboxed steps of one local run, one at a time, and the kill that stops them all."""

from __future__ import annotations

import os
import subprocess
import threading
import time

from pyjobs.errors import SandboxUnavailableError
from pyjobs.executors.runlog import RunLog
from pyjobs.executors.sandbox import Sandbox, SandboxMode
from pyjobs.executors.sandbox_config import SandboxConfig, SandboxResult, unenforced_limits


class StepKilled(Exception):
    """The run was killed before this step could start."""


class SandboxSteps:
    """Starts a run's steps in the sandbox, output into its log; `kill` works from any thread."""

    def __init__(self, mode: SandboxMode, log: RunLog) -> None:
        self.mode = mode
        self.log = log
        self._killed = threading.Event()
        self._lock = threading.Lock()
        self._active: Sandbox | None = None

    @property
    def killed(self) -> bool:
        """Whether `kill` was called."""
        return self._killed.is_set()

    def kill(self) -> None:
        """Kill the step in progress, and start no other."""
        self._killed.set()
        with self._lock:
            if self._active is not None:
                self._active.kill()

    def run(self, config: SandboxConfig, deadline: float) -> tuple[SandboxResult, bool]:
        """Run one step to its end or `deadline` (monotonic): its result, and if it timed out.

        Raises `StepKilled` if the run was killed first, and `SandboxUnavailableError` (said
        in the log too) if the sandbox cannot start: a step never runs less isolated.
        """
        read_end, write_end = os.pipe()
        try:
            with self._lock:
                if self._killed.is_set():
                    raise StepKilled
                sandbox = Sandbox.start(config, self.mode, stdout=write_end)
                self._active = sandbox
        except BaseException as error:
            os.close(read_end)
            if isinstance(error, SandboxUnavailableError):
                self.log.note(f"ERROR: {error}")
            raise
        finally:
            os.close(write_end)
        # Said before the drain starts, so the note precedes whatever the program prints.
        for missing in unenforced_limits(config, sandbox.enforced):
            self.log.note(f"WARNING: {missing}")
        reader = threading.Thread(target=self._drain, args=(read_end,), daemon=True)
        reader.start()
        timed_out = False
        with sandbox:
            try:
                result = sandbox.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
                sandbox.kill()
                result = sandbox.wait()
        reader.join()
        with self._lock:
            self._active = None
        return result, timed_out

    def _drain(self, fd: int) -> None:
        try:
            self.log.drain(fd)
        finally:
            os.close(fd)
