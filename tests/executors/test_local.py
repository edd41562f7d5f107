"""The local executor end to end: real uv, real packages, the real sandbox."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from pyjobs.errors import RunNotFoundError
from pyjobs.executors.local import LocalExecutor
from pyjobs.executors.localconfig import LocalRunConfig
from pyjobs.status import FailureReason, RunStatus
from tests.executors.helpers import wait_until_gone
from tests.support.local import run, submit

NUMPY_CODE = "import numpy; print(numpy.arange(10).sum())"


def wait_for_output(
    executor: LocalExecutor, run_id: str, marker: bytes, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while marker not in b"".join(executor.logs(run_id)):
        assert time.monotonic() < deadline, f"{marker!r} never appeared"
        time.sleep(0.05)


def test_numpy_runs_and_the_second_run_hits_the_cache(executor: LocalExecutor) -> None:
    first = run(executor, {"python_code": NUMPY_CODE, "dependencies": ["numpy"]})
    assert first.state.status is RunStatus.SUCCEEDED, first.text
    assert first.text.rstrip().endswith("45")
    second = run(executor, {"python_code": NUMPY_CODE, "dependencies": "numpy"})
    assert second.state.status is RunStatus.SUCCEEDED, second.text
    assert second.state.env_cache_hit is True
    assert second.state.setup_seconds is not None
    assert second.state.setup_seconds < 1.0
    assert second.text == "45\n"  # a hit prints nothing but the code's output
    assert second.state.exit_code == 0
    assert "bwrap" in second.state.limits
    assert second.state.workflow_name.startswith("python-job-")


def test_the_workflows_own_env_reaches_the_code(executor: LocalExecutor) -> None:
    code = "import os; print(os.environ['ARGO_WORKFLOW_NAME'], os.environ['MY_VAR'])"
    done = run(executor, {"python_code": code, "env": {"MY_VAR": "{{workflow.name}} $HOME"}})
    assert done.state.status is RunStatus.SUCCEEDED, done.text
    assert done.text.splitlines()[-1] == f"{done.state.workflow_name} {{{{workflow.name}}}} $HOME"


def test_exit_status_and_signal_are_recorded(executor: LocalExecutor) -> None:
    exited = run(executor, {"python_code": "import sys; print('bye'); sys.exit(3)"})
    assert exited.state.status is RunStatus.FAILED
    assert (exited.state.reason, exited.state.exit_code) == (FailureReason.EXIT_CODE, 3)
    killed = run(
        executor, {"python_code": "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"}
    )
    assert killed.state.reason is FailureReason.SIGNAL
    assert killed.state.signal == 11
    assert "SIGSEGV" in killed.state.message


def test_timeout_kills_the_run(executor: LocalExecutor) -> None:
    started = time.monotonic()
    done = run(
        executor,
        {
            "python_code": "import time; print('started', flush=True); time.sleep(600)",
            "timeout_seconds": 2,
        },
    )
    assert done.state.status is RunStatus.FAILED
    assert done.state.reason is FailureReason.TIMEOUT
    assert "timed out after 2 s" in done.state.message
    assert "started" in done.text
    assert time.monotonic() - started < 60


def test_cancel_kills_the_whole_tree_daemons_included(executor: LocalExecutor) -> None:
    token = f"pyjobs-daemon-{time.time_ns()}"
    code = (
        "import os, subprocess, sys, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execv('/bin/sleep', ['/bin/sleep', '600', '{token}'])\n"
        "    os._exit(0)\n"
        f"subprocess.Popen(['/bin/sleep', '601', '{token}'], start_new_session=True)\n"
        "print('ready', flush=True)\n"
        "time.sleep(600)\n"
    )
    state = submit(executor, {"python_code": code})
    wait_for_output(executor, state.run_id, b"ready")
    assert executor.state(state.run_id).status is RunStatus.RUNNING
    executor.cancel(state.run_id)
    final = executor.wait(state.run_id, 30)
    assert final.status is RunStatus.CANCELLED
    assert final.reason is FailureReason.CANCELLED
    assert wait_until_gone(token) == []


def test_runs_wait_in_order_when_the_pool_is_full(local_config: LocalRunConfig) -> None:
    executor = LocalExecutor(replace(local_config, max_concurrent=1))
    try:
        blocker = submit(
            executor, {"python_code": "import time; print('go', flush=True); time.sleep(600)"}
        )
        wait_for_output(executor, blocker.run_id, b"go")
        queued = [submit(executor, {"python_code": f"print({i})"}) for i in range(3)]
        doomed = submit(executor, {"python_code": "print('never')"})
        assert executor.state(queued[0].run_id).status is RunStatus.PENDING
        assert executor.cancel(doomed.run_id).status is RunStatus.CANCELLED
        executor.cancel(blocker.run_id)
        finals = [executor.wait(q.run_id, 120) for q in queued]
        assert [f.status for f in finals] == [RunStatus.SUCCEEDED] * 3
        starts = [f.started_at or 0.0 for f in finals]
        assert starts == sorted(starts)  # first in, first started
        never = executor.wait(doomed.run_id, 1)
        assert never.status is RunStatus.CANCELLED
        assert never.started_at is None
        assert b"".join(executor.logs(doomed.run_id)) == b""
    finally:
        executor.close()


def test_memory_limit_kills_with_reason_memory(executor: LocalExecutor) -> None:
    code = "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 * 1024))\n"
    done = run(executor, {"python_code": code, "memory_mb": 64})
    assert done.state.status is RunStatus.FAILED
    assert done.state.reason is FailureReason.MEMORY, (done.state, done.text)


def test_failed_install_is_reason_dependency_install(executor: LocalExecutor) -> None:
    done = run(
        executor, {"python_code": "print('never')", "dependencies": ["pyjobs-no-such-package-x9q"]}
    )
    assert done.state.status is RunStatus.FAILED
    assert done.state.reason is FailureReason.DEPENDENCY_INSTALL
    assert "pyjobs-no-such-package-x9q" in done.text  # uv's own error
    assert "never" not in done.text
    assert done.state.run_seconds is None


def test_logs_keep_bytes_order_and_stream_live(executor: LocalExecutor) -> None:
    code = (
        "import sys, time\n"
        "sys.stdout.buffer.write(b'\\xff\\xfe not utf-8 \\x1b[31mred\\x1b[0m\\n')\n"
        "for i in range(3):\n"
        "    print('out', i, flush=True)\n"
        "    print('err', i, file=sys.stderr, flush=True)\n"
        "print('first', flush=True)\n"
        "time.sleep(3)\n"
        "print('last')\n"
    )
    state = submit(executor, {"python_code": code})
    seen_first_at = None
    chunks = []
    for chunk in executor.logs(state.run_id, follow=True):
        chunks.append(chunk)
        if seen_first_at is None and b"first" in b"".join(chunks):
            seen_first_at = time.monotonic()
            assert not executor.state(state.run_id).status.is_final
    final = executor.wait(state.run_id)
    log = b"".join(chunks)
    assert log == b"".join(executor.logs(state.run_id))
    assert log.startswith(b"\xff\xfe not utf-8 \x1b[31mred\x1b[0m\n")
    assert b"out 0\nerr 0\nout 1\nerr 1\nout 2\nerr 2\nfirst\nlast\n" in log
    assert final.status is RunStatus.SUCCEEDED
    assert seen_first_at is not None


def test_output_is_capped_and_the_run_goes_on(local_config: LocalRunConfig) -> None:
    executor = LocalExecutor(replace(local_config, output_limit=64 * 1024))
    try:
        code = "import sys\nfor _ in range(2000):\n    print('x' * 1000)\nprint('done')\n"
        done = run(executor, {"python_code": code})
        assert done.state.status is RunStatus.SUCCEEDED
        assert len(done.log) < 64 * 1024 + 200
        assert b"[pyjobs] output truncated at 0.0625 MiB; the run goes on" in done.log
        assert b"done" not in done.log
    finally:
        executor.close()


def test_unknown_run_is_an_error(executor: LocalExecutor) -> None:
    with pytest.raises(RunNotFoundError):
        executor.state("nope")


def test_workdir_is_removed_without_following_planted_symlinks(
    executor: LocalExecutor, local_config: LocalRunConfig, tmp_path: Path
) -> None:
    precious = Path("/tmp") / f"pyjobs-precious-{time.time_ns()}"
    precious.write_text("keep me")
    try:
        code = (
            "import os\n"
            f"os.symlink({str(precious)!r}, 'link')\n"
            "os.mkdir('d'); os.symlink('/', 'd/root')\n"
            "open('result.txt', 'w').write('x')\n"
        )
        done = run(executor, {"python_code": code})
        assert done.state.status is RunStatus.SUCCEEDED, done.text
        assert precious.read_text() == "keep me"
        jobs = local_config.jobs_dir
        assert not (jobs / done.state.run_id / "work").exists()
        assert not (jobs / done.state.run_id).exists()  # nothing of the run stays behind
    finally:
        precious.unlink()
