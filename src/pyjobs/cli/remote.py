"""Commands that talk to a pyjobs server (`PYJOBS_URL`, `PYJOBS_TOKEN`) through the client."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, NoReturn

import click

from pyjobs.cli.display import echo, run_table, task_report, task_table
from pyjobs.cli.options import USAGE_EXIT_CODE, fail, load_settings, spec_from_options, task_options
from pyjobs.client import Client
from pyjobs.console import EXIT_CANCELLED, OutputPane, exit_status, stdout_pane, summary
from pyjobs.errors import (
    ApiError,
    ForbiddenError,
    InvalidTaskError,
    PayloadTooLargeError,
    PyjobsError,
    ServerUnreachableError,
    UnauthorizedError,
    WaitTimeoutError,
)
from pyjobs.server.schemas import RunOut, SubmitResponse, TaskOut

# Exit statuses of remote commands besides 0 and 2 (documented in the README).
EXIT_FAILURE = 1  # not found, conflict
EXIT_SERVER_ERROR = 70  # EX_SOFTWARE: the server failed
EXIT_UNREACHABLE = 69  # EX_UNAVAILABLE: try again later
EXIT_NOT_ALLOWED = 77  # EX_NOPERM: fix PYJOBS_TOKEN
_CANCEL_WAIT_SECONDS = 30
_SETUP_POLL_SECONDS = 0.25


def _exit_for(error: PyjobsError) -> NoReturn:
    """One line on stderr and the exit status of the error's kind."""
    if isinstance(error, InvalidTaskError):
        message, status = f"invalid {error.field}: {error.message}", USAGE_EXIT_CODE
    elif isinstance(error, PayloadTooLargeError):
        message, status = f"{error} (the server refused it)", USAGE_EXIT_CODE
    elif isinstance(error, ServerUnreachableError):
        message, status = str(error), EXIT_UNREACHABLE
    elif isinstance(error, UnauthorizedError):
        hint = "set PYJOBS_TOKEN to a token from 'pyjobs token create'"
        message, status = f"unauthorized: {error} ({hint})", EXIT_NOT_ALLOWED
    elif isinstance(error, ForbiddenError):
        message, status = f"forbidden: {error}", EXIT_NOT_ALLOWED
    elif isinstance(error, ApiError):
        message, status = str(error), EXIT_SERVER_ERROR
    else:
        message, status = str(error), EXIT_FAILURE
    echo(f"pyjobs: {message}", err=True)
    raise SystemExit(status)


@contextmanager
def _connected() -> Iterator[Client]:
    """A client of the configured server; any pyjobs error ends the command in one line."""
    settings = load_settings()
    token = settings.token.get_secret_value() if settings.token else ""
    try:
        with Client(settings.url, token) as client:
            yield client
    except PyjobsError as error:
        _exit_for(error)


def _watch_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--wait` and `--follow`, shared by `submit` and `rerun`."""
    command = click.option(
        "-f",
        "--follow",
        is_flag=True,
        help="Stream the output until the run ends; exit with the task's exit status.",
    )(command)
    return click.option(
        "--wait",
        is_flag=True,
        help="Wait for the run to end, print how it went; exit with the task's exit status.",
    )(command)


def _check_watch(wait: bool, follow: bool) -> None:
    if wait and follow:
        fail("give --wait or --follow, not both")


def _started(client: Client, started: SubmitResponse, wait: bool, follow: bool) -> None:
    """Print the task id, then follow or wait for the run if asked to and exit as it did."""
    if follow:
        echo(f"pyjobs: task {started.id}, run {started.run_number} ({started.status})", err=True)
    else:
        echo(started.id)  # stdout: the id alone, for `id=$(pyjobs submit …)`
    if wait or follow:
        run = _follow(client, started) if follow else _wait(client, started)
        echo(summary(run), err=True)
        raise SystemExit(exit_status(run))


def _run_of(task: TaskOut, number: int) -> RunOut:
    return next(run for run in task.runs if run.number == number)


def _follow(client: Client, started: SubmitResponse) -> RunOut:
    """Stream the run's output, a spinner on a terminal until its environment is ready."""
    pane = stdout_pane(f"waiting for the environment of task {started.id}")
    done = threading.Event()
    # Only a spinner needs to know when setup ends: piped, nothing polls the server.
    watcher = threading.Thread(target=_watch_setup, args=(client, started, pane, done))
    if sys.stderr.isatty():
        watcher.start()
    try:
        for chunk in client.logs(started.id, run=started.run_number, follow=True):
            pane.write(chunk.encode())
        return _run_of(client.wait(started.id, poll=0.2), started.run_number)
    except KeyboardInterrupt:
        _detached(started.id)
    finally:
        done.set()
        if watcher.is_alive():
            watcher.join()
        pane.setup_done()


def _watch_setup(
    client: Client, started: SubmitResponse, pane: OutputPane, done: threading.Event
) -> None:
    try:
        while not done.is_set():
            run = _run_of(client.get(started.id), started.run_number)
            if run.env_cache_hit is not None or run.status.is_final:
                break
            done.wait(_SETUP_POLL_SECONDS)
    except PyjobsError:
        pass  # the main thread meets the same error and reports it
    pane.setup_done()


def _wait(client: Client, started: SubmitResponse) -> RunOut:
    pane = stdout_pane(f"waiting for task {started.id}")
    try:
        return _run_of(client.wait(started.id, poll=0.5), started.run_number)
    except KeyboardInterrupt:
        _detached(started.id)
    finally:
        pane.setup_done()


def _detached(task_id: str) -> NoReturn:
    # Ctrl-C stops watching, not the task: it belongs to the server now.
    echo(f"pyjobs: stopped watching; task {task_id} goes on ('pyjobs cancel {task_id}')", err=True)
    raise SystemExit(EXIT_CANCELLED)


@click.command()
@task_options
@_watch_options
def submit(wait: bool, follow: bool, **task: Any) -> None:
    """Submit a task to the server and print its id."""
    _check_watch(wait, follow)
    spec = spec_from_options(**task)
    with _connected() as client:
        _started(client, client.submit(spec), wait, follow)


@click.command()
@click.argument("task_id", metavar="ID")
@_watch_options
def rerun(task_id: str, wait: bool, follow: bool) -> None:
    """Start a new run of a task (refused while one is active)."""
    _check_watch(wait, follow)
    with _connected() as client:
        _started(client, client.rerun(task_id), wait, follow)


@click.command()
@click.argument("task_id", metavar="ID")
def status(task_id: str) -> None:
    """Show a task: its status, request and every run."""
    with _connected() as client:
        task = client.get(task_id)
    for line in task_report(task):
        echo(line)


@click.command()
@click.argument("task_id", metavar="ID")
@click.option("-f", "--follow", is_flag=True, help="Keep streaming until the run ends.")
@click.option("--run", "run", type=int, metavar="N", help="Run number (default: the latest).")
def logs(task_id: str, follow: bool, run: int | None) -> None:
    """Print a run's output."""
    with _connected() as client:
        try:
            for chunk in client.logs(task_id, run=run, follow=follow):
                sys.stdout.buffer.write(chunk.encode())
                sys.stdout.buffer.flush()
        except KeyboardInterrupt:
            raise SystemExit(EXIT_CANCELLED) from None


@click.command()
@click.argument("task_id", metavar="ID")
def cancel(task_id: str) -> None:
    """Cancel the task's active run and show how it ended."""
    with _connected() as client:
        task = client.cancel(task_id)
        if not task.status.is_final:
            # A run that has not stopped by then is reported as still cancelling.
            with suppress(WaitTimeoutError):
                task = client.wait(task_id, timeout=_CANCEL_WAIT_SECONDS, poll=0.2)
    latest = _run_of(task, task.latest_run)
    for line in run_table([latest]):
        echo(line)
    if not latest.status.is_final:
        echo(f"pyjobs: cancel requested; run {latest.number} has not stopped yet", err=True)


@click.command("list")
@click.option("--status", "status_", metavar="STATUS", help="Only tasks in this status.")
@click.option("--limit", default=20, show_default=True, help="At most this many (0: all).")
def list_tasks(status_: str | None, limit: int) -> None:
    """List tasks, newest first: id, status, created, title."""
    with _connected() as client:
        tasks = list(client.list(status=status_, limit=limit or None))
    for line in task_table(tasks):
        echo(line)
    if not tasks:
        echo("pyjobs: no tasks", err=True)


@click.command()
@click.argument("task_id", metavar="ID")
def delete(task_id: str) -> None:
    """Delete a task, its runs and their logs (cancelling an active run first)."""
    with _connected() as client:
        client.delete(task_id)
    echo(f"pyjobs: task {task_id} deleted", err=True)


COMMANDS = (submit, status, logs, cancel, list_tasks, rerun, delete)
