"""The `pyjobs` command line: one group, its commands in modules by where they work."""

from __future__ import annotations

import click

from pyjobs.cli import admin, local, remote

__all__ = ["cli", "main"]


@click.group()
@click.version_option(package_name="pyjobs")
def cli() -> None:
    """Run Python code with the pip packages it needs as isolated jobs."""


for _command in (local.run, local.render, *remote.COMMANDS, admin.serve, admin.token, admin.db):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="pyjobs")
