"""The terminal side of `pyjobs run`: exit statuses, summary line, setup spinner."""

from __future__ import annotations

import io
import time

import pytest

from pyjobs.console import OutputPane, exit_status, summary
from pyjobs.executors.base import RunState
from pyjobs.status import FailureReason, RunStatus


def state(**changes: object) -> RunState:
    return RunState("r1", "python-job-abcde").moved(**changes)


@pytest.mark.parametrize(
    ("final", "status"),
    [
        (state(status=RunStatus.RUNNING).moved(status=RunStatus.SUCCEEDED, exit_code=0), 0),
        (state(status=RunStatus.CANCELLED), 130),
        (state(status=RunStatus.FAILED, reason=FailureReason.TIMEOUT), 124),
        (state(status=RunStatus.FAILED, reason=FailureReason.MEMORY, signal=9), 137),
        (state(status=RunStatus.FAILED, reason=FailureReason.DEPENDENCY_INSTALL), 97),
        (state(status=RunStatus.FAILED, reason=FailureReason.BACKEND_ERROR), 70),
        (state(status=RunStatus.FAILED, reason=FailureReason.EXIT_CODE, exit_code=3), 3),
        (state(status=RunStatus.FAILED, reason=FailureReason.SIGNAL, signal=11), 139),
    ],
)
def test_exit_status(final: RunState, status: int) -> None:
    assert exit_status(final) == status


def test_summary_line() -> None:
    final = state(
        status=RunStatus.FAILED,
        reason=FailureReason.EXIT_CODE,
        message="exited with status 3",
        env_cache_hit=True,
        setup_seconds=0.0123,
        run_seconds=1.5,
    )
    assert summary(final) == (
        "pyjobs: failed (exited with status 3) · env cache hit · setup 0.01s · run 1.50s"
    )


def test_spinner_draws_while_setting_up_and_clears_before_output() -> None:
    out, err = io.BytesIO(), io.StringIO()
    pane = OutputPane(out, err, "setting up the environment (numpy)", spinner=True)
    time.sleep(0.35)
    pane.write(b"installing...\n")
    pane.setup_done()
    pane.write(b"45\n")
    assert out.getvalue() == b"installing...\n45\n"
    drawn = err.getvalue()
    assert "⠋ setting up the environment (numpy) (0s)" in drawn
    assert drawn.endswith("\r\x1b[K")  # the spinner line is erased once set-up is done
    frames_after = err.getvalue()
    time.sleep(0.25)
    assert err.getvalue() == frames_after  # and never drawn again


def test_no_spinner_when_not_a_terminal() -> None:
    out, err = io.BytesIO(), io.StringIO()
    pane = OutputPane(out, err, "setting up", spinner=False)
    time.sleep(0.15)
    pane.write(b"x")
    pane.setup_done()
    assert err.getvalue() == ""
