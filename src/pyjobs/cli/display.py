"""How the remote commands show tasks: tables, colours on a terminal, plain text when piped."""

from __future__ import annotations

import os
import shutil
import sys
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import click

from pyjobs.server.schemas import RunOut, TaskOut, TaskSummary
from pyjobs.status import RunStatus

_STATUS_COLOURS: dict[str, str] = {
    RunStatus.PENDING: "blue",
    RunStatus.RUNNING: "cyan",
    RunStatus.SUCCEEDED: "green",
    RunStatus.FAILED: "red",
    RunStatus.CANCELLED: "yellow",
}
_ENV = {True: "hit", False: "built", None: "-"}

Style = Callable[[str], str]


def echo(text: str = "", err: bool = False) -> None:
    """Print a line; click drops the colours when the stream is not a terminal."""
    # NO_COLOR (https://no-color.org) turns colours off on a terminal too.
    click.echo(text, err=err, color=False if os.environ.get("NO_COLOR") else None)


def printable(text: str) -> str:
    r"""User text made safe for a terminal: control characters (ESC, CR, …) shown as \xNN."""
    text = text.replace("\t", " ")
    return "".join(f"\\x{ord(c):02x}" if unicodedata.category(c) == "Cc" else c for c in text)


def status_style(text: str) -> str:
    """A status in its colour."""
    colour = _STATUS_COLOURS.get(text)
    return click.style(text, fg=colour, bold=text == RunStatus.FAILED)


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    styles: Mapping[int, Style] | None = None,
) -> list[str]:
    """Aligned columns, headers bold; `styles` colours the cells of some columns."""
    styles = styles or {}
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    lines = [_line([click.style(h, bold=True) for h in headers], list(headers), widths)]
    for row in rows:
        styled = [styles.get(i, _plain)(cell) for i, cell in enumerate(row)]
        lines.append(_line(styled, list(row), widths))
    return lines


def _plain(text: str) -> str:
    return text


def _line(styled: list[str], plain: list[str], widths: list[int]) -> str:
    # Pad after styling with the plain text's width: escape codes take no columns.
    cells = [s + " " * (w - len(p)) for s, p, w in zip(styled[:-1], plain, widths, strict=False)]
    return "  ".join([*cells, styled[-1]])


def when(moment: datetime | None) -> str:
    """A timestamp in local time, to the second ("-" if none)."""
    if moment is None:
        return "-"
    if moment.tzinfo is None:  # the API's timestamps are UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def seconds(value: float | None) -> str:
    """A duration such as 0.52s ("-" if unknown)."""
    return "-" if value is None else f"{value:.2f}s"


def task_table(tasks: Sequence[TaskSummary]) -> list[str]:
    """The table of `pyjobs list`: id, status, created, title."""
    rows = [[t.id, t.status.value, when(t.created_at), printable(t.title)] for t in tasks]
    if sys.stdout.isatty() and rows:
        # On a terminal, cut titles rather than wrap the table.
        room = shutil.get_terminal_size().columns - sum(len(c) + 2 for c in rows[0][:3])
        for row in rows:
            row[3] = row[3] if len(row[3]) <= room else row[3][: max(room - 1, 10)] + "…"
    return table(["ID", "STATUS", "CREATED", "TITLE"], rows, {1: status_style})


def task_report(task: TaskOut) -> list[str]:
    """The readable summary of `pyjobs status`: the task, its request, every run."""
    spec = task.spec
    fields = [
        ("task", click.style(task.id, bold=True)),
        ("status", status_style(task.status.value)),
        ("created", when(task.created_at)),
        ("code", printable(_first_line(str(spec.get("python_code", ""))))),
        ("packages", _packages(spec)),
        ("limits", _limits(spec)),
    ]
    lines = [click.style(name, dim=True) + " " * (9 - len(name)) + value for name, value in fields]
    lines += ["", click.style("runs", dim=True)]
    lines += ["  " + line for line in run_table(task.runs)]
    return lines


def run_table(runs: Sequence[RunOut]) -> list[str]:
    """One row per run: status, reason, exit code, environment, timings, message."""
    headers = ["RUN", "STATUS", "REASON", "EXIT", "ENV", "SETUP", "RUN", "STARTED", "MESSAGE"]
    rows = [
        [
            str(run.number),
            run.status.value,
            run.reason.value if run.reason else "-",
            "-" if run.exit_code is None else str(run.exit_code),
            _ENV[run.env_cache_hit],
            seconds(run.setup_seconds),
            seconds(run.run_seconds),
            when(run.started_at),
            printable(run.message) or "-",
        ]
        for run in runs
    ]
    return table(headers, rows, {1: status_style})


def _first_line(code: str) -> str:
    lines = [line for line in code.splitlines() if line.strip()]
    more = f"  (+{len(lines) - 1} lines)" if len(lines) > 1 else ""
    first = lines[0].strip() if lines else ""
    return (first if len(first) <= 70 else first[:69] + "…") + more


def _packages(spec: Mapping[str, Any]) -> str:
    parts = [printable(str(d)) for d in spec.get("dependencies") or []]
    if spec.get("requirements_file"):
        parts.append("+ a requirements file")
    return ", ".join(parts) or "-"


def _limits(spec: Mapping[str, Any]) -> str:
    parts = [f"timeout {spec.get('timeout_seconds', '-')}s"]
    if spec.get("memory_mb") is not None:
        parts.append(f"memory {spec['memory_mb']} MiB")
    if spec.get("cpu") is not None:
        parts.append(f"cpu {spec['cpu']:g}")
    if spec.get("network") is False:
        parts.append("no network")
    return " · ".join(parts)
