"""Runs that try to outlast or outtalk their limits end cleanly, with the right reason."""

from __future__ import annotations

from dataclasses import replace

from pyjobs.executors.local import LocalExecutor
from pyjobs.executors.localconfig import LocalRunConfig
from pyjobs.executors.sandbox import SandboxMode
from pyjobs.status import FailureReason, RunStatus
from tests.support.local import run


def test_busy_loop_past_the_timeout(executor: LocalExecutor) -> None:
    done = run(executor, {"python_code": "while True:\n    pass\n", "timeout_seconds": 2})
    assert (done.state.status, done.state.reason) == (RunStatus.FAILED, FailureReason.TIMEOUT)


def test_endless_output_is_capped_until_the_timeout(local_config: LocalRunConfig) -> None:
    executor = LocalExecutor(replace(local_config, output_limit=256 * 1024))
    try:
        done = run(
            executor,
            {"python_code": "while True:\n    print('y' * 1000)\n", "timeout_seconds": 3},
        )
        assert done.state.reason is FailureReason.TIMEOUT
        assert 256 * 1024 <= len(done.log) < 256 * 1024 + 300
        assert b"output truncated at 0.25 MiB" in done.log
    finally:
        executor.close()


def test_without_a_sandbox_the_log_starts_with_a_warning(local_config: LocalRunConfig) -> None:
    executor = LocalExecutor(replace(local_config, sandbox=SandboxMode.NONE))
    try:
        # A console script of a package: the env was built elsewhere and moved into the
        # cache, so its entry points must be relocatable.
        code = "import subprocess\nsubprocess.run(['pyflakes', '--version'], check=True)\n"
        done = run(executor, {"python_code": code, "dependencies": "pyflakes"})
        assert done.state.status is RunStatus.SUCCEEDED, done.text
        assert done.text.startswith("[pyjobs] WARNING: no sandbox")
        assert done.text.splitlines()[-1][0].isdigit()  # pyflakes' version
        assert "bwrap" not in done.state.limits
        assert "rlimit:nproc" in done.state.limits  # rlimits still apply
    finally:
        executor.close()
