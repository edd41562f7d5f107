"""The flags that describe a task, and how every command ends on bad input."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click
from pydantic import ValidationError

from pyjobs.config import Settings
from pyjobs.errors import InvalidTaskError
from pyjobs.spec import TaskSpec, field_errors

USAGE_EXIT_CODE = 2


def fail(message: str) -> NoReturn:
    """One clear line on stderr, exit status 2: how every invalid input ends."""
    click.echo(f"pyjobs: {message}", err=True)
    raise SystemExit(USAGE_EXIT_CODE)


def load_settings() -> Settings:
    """The settings from the environment, or exit 2 naming the bad variable."""
    try:
        return Settings()
    except ValidationError as error:
        first = field_errors(error)[0]
        fail(f"invalid setting {first.field}: {first.message}")


def _read_text(path: str, field: str) -> str:
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as error:
        fail(f"{field}: cannot read {path!r}: {error.strerror}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        fail(f"{field}: {path!r} is not valid UTF-8 (byte {error.start})")


def _parse_env(assignments: tuple[str, ...]) -> dict[str, str]:
    env = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep:
            fail(f"env: expected NAME=VALUE, got {assignment.split('=')[0][:40]!r}")
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
        fail("python_code: give a FILE or -c CODE (one of them)")
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
        fail(f"invalid {error.field}: {error.message}")
