"""The `pyjobs` command line."""

from __future__ import annotations

import functools
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import click
from pydantic import ValidationError

from pyjobs.config import Settings
from pyjobs.console import OutputPane, exit_status, stdout_pane, summary
from pyjobs.errors import InvalidTaskError, PyjobsError
from pyjobs.executors.base import RunRequest
from pyjobs.executors.local import LocalExecutor
from pyjobs.executors.localconfig import LocalRunConfig
from pyjobs.manifests import Builder, ManifestOptions, build_manifest, render_yaml
from pyjobs.spec import TaskSpec, field_errors

USAGE_EXIT_CODE = 2


def _fail(message: str) -> NoReturn:
    """One clear line on stderr, exit status 2: how every invalid input ends."""
    click.echo(f"pyjobs: {message}", err=True)
    raise SystemExit(USAGE_EXIT_CODE)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        first = field_errors(error)[0]
        _fail(f"invalid setting {first.field}: {first.message}")


def _read_text(path: str, field: str) -> str:
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as error:
        _fail(f"{field}: cannot read {path!r}: {error.strerror}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        _fail(f"{field}: {path!r} is not valid UTF-8 (byte {error.start})")


def _parse_env(assignments: tuple[str, ...]) -> dict[str, str]:
    env = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep:
            _fail(f"env: expected NAME=VALUE, got {assignment.split('=')[0][:40]!r}")
        env[name] = value
    return env


def task_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The flags that describe a task, shared by `run`, `render` and `submit`."""
    decorators = [
        click.argument("file", required=False, metavar="[FILE]"),
        click.option("-c", "code", metavar="CODE", help="Program passed in as a string."),
        click.option(
            "--with",
            "dependencies",
            multiple=True,
            metavar="DEP",
            help="A PEP 508 requirement (repeatable).",
        ),
        click.option(
            "-r",
            "--requirements",
            metavar="REQUIREMENTS_FILE",
            help="A requirements.txt file ('-' for stdin).",
        ),
        click.option("--timeout", type=int, metavar="S", help="Seconds (default 3600)."),
        click.option("--memory", type=int, metavar="MB", help="Memory limit in MiB."),
        click.option("--cpu", type=float, metavar="N", help="CPU limit in cores."),
        click.option(
            "-e",
            "--env",
            "env",
            multiple=True,
            metavar="NAME=VALUE",
            help="A variable for the code (repeatable).",
        ),
        click.option("--no-network", is_flag=True, help="Run the code with no network."),
        click.option("--namespace", metavar="NS", help="Kubernetes namespace."),
    ]
    return functools.reduce(lambda cmd, deco: deco(cmd), reversed(decorators), command)


def spec_from_options(
    *,
    file: str | None,
    code: str | None,
    dependencies: tuple[str, ...],
    requirements: str | None,
    timeout: int | None,
    memory: int | None,
    cpu: float | None,
    env: tuple[str, ...],
    no_network: bool,
    namespace: str | None,
) -> TaskSpec:
    """Build the validated TaskSpec the flags describe, or exit 2 naming the field."""
    if (file is None) == (code is None):
        _fail("python_code: give a FILE or -c CODE (one of them)")
    python_code = code if code is not None else _read_text(str(file), "python_code")
    request: dict[str, Any] = {
        "python_code": python_code,
        "dependencies": list(dependencies),
        "env": _parse_env(env),
        "network": not no_network,
    }
    if requirements is not None:
        request["requirements_file"] = _read_text(requirements, "requirements_file")
    optional = {"timeout_seconds": timeout, "memory_mb": memory, "cpu": cpu}
    request |= {key: value for key, value in optional.items() if value is not None}
    if namespace is not None:
        request["namespace"] = namespace
    try:
        return TaskSpec.parse(request)
    except InvalidTaskError as error:
        _fail(f"invalid {error.field}: {error.message}")


@click.group()
@click.version_option(package_name="pyjobs")
def cli() -> None:
    """Run Python code with the pip packages it needs as isolated jobs."""


@cli.command()
@task_options
@click.option(
    "--builder",
    type=click.Choice([b.value for b in Builder]),
    help="Manifest builder (default: hera, or template when USE_HERA_SDK=false).",
)
def render(builder: str | None, **task: Any) -> None:
    """Print the Argo Workflow YAML a task would run as."""
    settings = _settings()
    spec = spec_from_options(**task)
    chosen = Builder(builder) if builder else Builder.from_flag(settings.use_hera_sdk)
    manifest = build_manifest(spec, ManifestOptions.from_settings(settings), builder=chosen)
    click.echo(render_yaml(manifest), nl=False)


@cli.command()
@task_options
def run(**task: Any) -> None:
    """Run a task once on this machine, in the sandbox, with its output streamed live."""
    settings = _settings()
    spec = spec_from_options(**task)
    builder = Builder.from_flag(settings.use_hera_sdk)
    manifest = build_manifest(spec, ManifestOptions.from_settings(settings), builder=builder)
    config = replace(LocalRunConfig.from_settings(settings), max_concurrent=1)
    try:
        executor = LocalExecutor(config)
    except PyjobsError as error:
        _fail(str(error))
    with closing(executor):
        state = executor.submit(RunRequest(uuid.uuid4().hex, spec, manifest))
        raise SystemExit(_follow(executor, state.run_id, spec))


def _follow(executor: LocalExecutor, run_id: str, spec: TaskSpec) -> int:
    packages = ", ".join(spec.dependencies) or ("requirements" if spec.requirements_file else "")
    pane = stdout_pane(f"setting up the environment{f' ({packages})' if packages else ''}")
    watcher = threading.Thread(target=_watch_setup, args=(executor, run_id, pane), daemon=True)
    watcher.start()
    try:
        for chunk in executor.logs(run_id, follow=True):
            pane.write(chunk)
    except KeyboardInterrupt:
        executor.cancel(run_id)
    final = executor.wait(run_id)
    pane.setup_done()
    click.echo(summary(final), err=True)
    return exit_status(final)


def _watch_setup(executor: LocalExecutor, run_id: str, pane: OutputPane) -> None:
    while True:
        state = executor.state(run_id)
        if state.env_cache_hit is not None or state.status.is_final:
            pane.setup_done()
            return
        time.sleep(0.05)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--insecure",
    is_flag=True,
    help="Allow a non-loopback --host without any API token (everyone is admin).",
)
def serve(host: str, port: int, insecure: bool) -> None:
    """Serve the REST API (and dashboard) with the dispatcher and local workers."""
    import uvicorn  # noqa: PLC0415 - only the server needs it

    from pyjobs.server.app import UVICORN_OPTIONS, create_app  # noqa: PLC0415
    from pyjobs.server.auth import TokenChecker  # noqa: PLC0415
    from pyjobs.server.db.engine import Database  # noqa: PLC0415
    from pyjobs.server.db.upgrade import upgrade  # noqa: PLC0415
    from pyjobs.server.deps import is_loopback  # noqa: PLC0415

    settings = _settings()
    database = Database(settings.database)
    upgrade(database)
    has_tokens = TokenChecker(database).tokens_exist()
    database.dispose()
    if not has_tokens and not is_loopback(host) and not insecure:
        _fail(
            f"refusing to serve on {host} without API tokens: create one with "
            "'pyjobs token create NAME', or pass --insecure"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app(settings, insecure=insecure)
    uvicorn.run(app, host=host, port=port, **UVICORN_OPTIONS)


@cli.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.argument("name")
@click.option("--admin", is_flag=True, help="The token sees and manages every task.")
def token_create(name: str, admin: bool) -> None:
    """Create a token and print it (shown only this once; only its hash is stored)."""
    from pyjobs.server.auth import create_token  # noqa: PLC0415
    from pyjobs.server.db.engine import Database  # noqa: PLC0415
    from pyjobs.server.db.upgrade import upgrade  # noqa: PLC0415

    database = Database(_settings().database)
    upgrade(database)
    try:
        created = create_token(database, name, admin)
    except PyjobsError as error:
        _fail(str(error))
    finally:
        database.dispose()
    click.echo(created.secret)
    click.echo(
        f"pyjobs: token {name!r}{' (admin)' if admin else ''} created; store it now, "
        "it cannot be shown again",
        err=True,
    )


@cli.group()
def db() -> None:
    """Manage the database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (serve does this on start too)."""
    from pyjobs.server.db.engine import Database  # noqa: PLC0415
    from pyjobs.server.db.upgrade import upgrade  # noqa: PLC0415

    database = Database(_settings().database)
    upgrade(database)
    database.dispose()
    click.echo("pyjobs: database is up to date", err=True)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="pyjobs")
