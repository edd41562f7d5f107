"""A run's sandboxed steps: killed before a step starts, nothing starts and nothing leaks."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pyjobs.executors.jobsteps import SandboxSteps, StepKilled
from pyjobs.executors.runlog import RunLog
from pyjobs.executors.sandbox import SandboxMode
from pyjobs.executors.sandbox_config import SandboxConfig


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_after_a_kill_no_step_starts_and_no_descriptor_is_left_open(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    log = RunLog(tmp_path / "log")
    steps = SandboxSteps(SandboxMode.NONE, log)
    config = SandboxConfig(argv=["/bin/sh", "-c", f"touch {marker}"], env={}, workdir=tmp_path)
    steps.kill()
    try:
        before = _open_fds()
        for _ in range(3):
            with pytest.raises(StepKilled):
                steps.run(config, time.monotonic() + 10)
        assert _open_fds() == before  # the output pipe's two ends were closed each time
    finally:
        log.close()
    assert not marker.exists()
    assert steps.killed
