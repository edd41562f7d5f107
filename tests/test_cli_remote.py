"""The CLI's remote commands, as subprocesses talking to a live server through PYJOBS_URL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from pyjobs import Client
from pyjobs.cli import cli
from pyjobs.config import Settings
from pyjobs.console import EXIT_TIMEOUT
from pyjobs.status import RunStatus
from tests.support.live import free_port, server_thread, token_for

PYJOBS = str(Path(sys.executable).parent / "pyjobs")
ID = re.compile(r"[0-9a-z]{26}")


def pyjobs(url: str, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    """`pyjobs ARGS` with only PYJOBS_URL (and PYJOBS_TOKEN) of pyjobs' settings, piped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYJOBS_")}
    env.pop("NO_COLOR", None)
    env["PYJOBS_URL"] = url
    if token is not None:
        env["PYJOBS_TOKEN"] = token
    done = subprocess.run(
        [PYJOBS, *args], env=env, capture_output=True, text=True, timeout=240, check=False
    )
    # Piped output is plain text: no colours, no spinner.
    assert "\x1b" not in done.stdout + done.stderr, done
    return done


def program_output(stdout: str) -> list[str]:
    """The code's own lines of a followed run, without pyjobs' notes (an environment build)."""
    return [line for line in stdout.splitlines() if not line.startswith("[pyjobs] ")]


def test_submit_follow_prints_the_output_and_exits_with_the_code(live_server: str) -> None:
    done = pyjobs(live_server, "submit", "-c", "print(2+2)", "--follow")
    assert done.returncode == 0, done.stderr
    assert program_output(done.stdout) == ["4"]
    started, finished = done.stderr.splitlines()
    assert re.fullmatch(r"pyjobs: task [0-9a-z]{26}, run 1 \(pending\)", started)
    assert finished.startswith("pyjobs: succeeded · ")

    failing = pyjobs(live_server, "submit", "-c", "import sys; print('x'); sys.exit(3)", "-f")
    assert failing.returncode == 3, failing.stderr
    assert "pyjobs: failed (" in failing.stderr


def test_submit_wait_prints_the_id_then_how_the_run_ended(live_server: str) -> None:
    done = pyjobs(live_server, "submit", "-c", "import sys; sys.exit(5)", "--wait")
    assert done.returncode == 5, done.stderr
    assert ID.fullmatch(done.stdout.strip())
    assert done.stderr.startswith("pyjobs: failed (")
    code = "import time; time.sleep(60)"
    slow = pyjobs(live_server, "submit", "-c", code, "--timeout", "1", "--wait")
    assert slow.returncode == EXIT_TIMEOUT, slow.stderr
    plain = pyjobs(live_server, "submit", "-c", "print(1)")
    assert plain.returncode == 0
    assert ID.fullmatch(plain.stdout.strip())
    assert plain.stderr == ""


def test_status_list_logs_cancel_and_rerun(live_server: str) -> None:
    code = "import time\nprint('started', flush=True)\ntime.sleep(600)\n"
    submitted = pyjobs(live_server, "submit", "-c", code, "--no-network", "--memory", "300")
    task_id = submitted.stdout.strip()
    with Client(live_server, token="") as client:
        deadline = time.monotonic() + 120
        while "started" not in "".join(client.logs(task_id)):
            assert time.monotonic() < deadline
            time.sleep(0.2)

    status = pyjobs(live_server, "status", task_id)
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[:2] == [f"task     {task_id}", "status   running"]
    assert "code     import time  (+2 lines)" in lines
    assert "limits   timeout 3600s · memory 300 MiB · no network" in lines
    header, run = lines[lines.index("runs") + 1 :]
    assert header.split() == [
        "RUN", "STATUS", "REASON", "EXIT", "ENV", "SETUP", "RUN", "STARTED", "MESSAGE"
    ]  # fmt: skip
    assert run.split()[:4] == ["1", "running", "-", "-"]
    assert header.index("STATUS") == run.index("running")  # aligned columns

    logs = pyjobs(live_server, "logs", task_id)
    assert program_output(logs.stdout) == ["started"]

    cancelled = pyjobs(live_server, "cancel", task_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.splitlines()[1].split()[:3] == ["1", "cancelled", "cancelled"]

    again = pyjobs(live_server, "rerun", task_id, "--wait", "--follow")
    assert (again.returncode, again.stderr) == (2, "pyjobs: give --wait or --follow, not both\n")
    rerun = pyjobs(live_server, "rerun", task_id)
    assert (rerun.returncode, rerun.stdout) == (0, f"{task_id}\n")
    conflict = pyjobs(live_server, "rerun", task_id)
    assert conflict.returncode == 1
    active = rf"pyjobs: task {task_id} has an active run \((pending|running)\); cancel it first\n"
    assert re.fullmatch(active, conflict.stderr)
    pyjobs(live_server, "cancel", task_id)
    assert program_output(pyjobs(live_server, "logs", task_id, "--run", "1").stdout) == ["started"]
    followed = pyjobs(live_server, "logs", "-f", task_id)  # run 2 ended: returns at once
    assert followed.returncode == 0

    other = pyjobs(live_server, "submit", "-c", "x = '\x1b[2J'  # a title with an escape")
    listing = pyjobs(live_server, "list")
    header, *rows = listing.stdout.splitlines()
    assert header.split() == ["ID", "STATUS", "CREATED", "TITLE"]
    assert [row.split()[0] for row in rows] == [other.stdout.strip(), task_id]
    assert "x = '\\x1b[2J'  # a title with an escape" in rows[0]  # shown, not obeyed
    assert rows[1].split()[1] == "cancelled"
    assert rows[1].endswith("import time")
    only = pyjobs(live_server, "list", "--status", "cancelled", "--limit", "1")
    assert [row.split()[0] for row in only.stdout.splitlines()[1:]] == [task_id]
    none = pyjobs(live_server, "list", "--status", "running")
    assert (none.stdout.splitlines()[1:], none.stderr) == ([], "pyjobs: no tasks\n")

    deleted = pyjobs(live_server, "delete", task_id)
    assert deleted.stderr == f"pyjobs: task {task_id} deleted\n"


def test_colours_on_a_terminal_and_none_with_no_color(live_server: str) -> None:
    with Client(live_server, token="") as client:
        client.wait(client.submit("print(1)").id, timeout=120)
    env: dict[str, str | None] = {"PYJOBS_URL": live_server, "PYJOBS_TOKEN": "", "NO_COLOR": None}
    coloured = CliRunner().invoke(cli, ["list"], env=env, color=True)
    assert coloured.exit_code == 0, coloured.output
    assert "\x1b[32m" in coloured.stdout  # succeeded in green
    plain = CliRunner().invoke(cli, ["list"], env={**env, "NO_COLOR": "1"}, color=True)
    assert "\x1b" not in plain.stdout
    assert [line.split() for line in plain.stdout.splitlines()][1][1] == "succeeded"


def test_errors_are_one_line_with_their_exit_status(live_server: str) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    unreachable = pyjobs(nowhere, "list")
    assert unreachable.returncode == 69
    assert unreachable.stderr.startswith(f"pyjobs: cannot reach the pyjobs server at {nowhere} (")
    assert len(unreachable.stderr.splitlines()) == 1

    missing = pyjobs(live_server, "status", "01nosuchtask")
    assert (missing.returncode, missing.stderr) == (1, "pyjobs: task '01nosuchtask' not found\n")

    invalid = pyjobs(live_server, "submit", "-c", "print(1)", "--with", "numpy; rm -rf /")
    assert invalid.returncode == 2
    assert invalid.stderr == (
        "pyjobs: invalid dependencies[0]: not a valid PEP 508 requirement: 'numpy; rm -rf /'\n"
    )
    bad_status = pyjobs(live_server, "list", "--status", "done")
    assert bad_status.returncode == 2
    assert bad_status.stderr.startswith("pyjobs: invalid status: must be one of pending, ")
    with Client(live_server, token="") as client:
        assert list(client.list()) == []  # nothing was submitted


def test_a_token_from_pyjobs_token(live_settings: Settings) -> None:
    secret = token_for(live_settings, "ci")
    with server_thread(live_settings) as url:
        anonymous = pyjobs(url, "list")
        assert anonymous.returncode == 77
        assert anonymous.stderr == (
            "pyjobs: unauthorized: a bearer token is required (Authorization: Bearer …) "
            "(set PYJOBS_TOKEN to a token from 'pyjobs token create')\n"
        )
        wrong = pyjobs(url, "list", token="pjt_" + "nope")
        assert (wrong.returncode, wrong.stderr.split(" (")[0]) == (
            77,
            "pyjobs: unauthorized: invalid token",
        )
        done = pyjobs(url, "submit", "-c", "print('with a token')", "--follow", token=secret)
        assert done.returncode == 0, done.stderr
        assert program_output(done.stdout) == ["with a token"]
        with Client(url, secret) as client:
            assert [t.status for t in client.list()] == [RunStatus.SUCCEEDED]
