"""Administration commands: `serve`, `token create`, `db upgrade`."""

from __future__ import annotations

import click

from pyjobs.cli.options import fail, load_settings
from pyjobs.errors import PyjobsError


@click.command()
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

    from pyjobs.server.app import (  # noqa: PLC0415
        UVICORN_OPTIONS,
        create_app,
    )
    from pyjobs.server.auth import TokenChecker  # noqa: PLC0415
    from pyjobs.server.db.engine import Database  # noqa: PLC0415
    from pyjobs.server.db.upgrade import upgrade  # noqa: PLC0415
    from pyjobs.server.deps import is_loopback  # noqa: PLC0415
    from pyjobs.server.logs import configure_logging  # noqa: PLC0415

    settings = load_settings()
    database = Database(settings.database)
    upgrade(database)
    has_tokens = TokenChecker(database).tokens_exist()
    database.dispose()
    if not has_tokens and not is_loopback(host) and not insecure:
        fail(
            f"refusing to serve on {host} without API tokens: create one with "
            "'pyjobs token create NAME', or pass --insecure"
        )
    configure_logging()
    app = create_app(settings, insecure=insecure)
    uvicorn.run(app, host=host, port=port, **UVICORN_OPTIONS)


@click.group()
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

    database = Database(load_settings().database)
    upgrade(database)
    try:
        created = create_token(database, name, admin)
    except PyjobsError as error:
        fail(str(error))
    finally:
        database.dispose()
    click.echo(created.secret)
    click.echo(
        f"pyjobs: token {name!r}{' (admin)' if admin else ''} created; store it now, "
        "it cannot be shown again",
        err=True,
    )


@click.group()
def db() -> None:
    """Manage the database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (serve does this on start too)."""
    from pyjobs.server.db.engine import Database  # noqa: PLC0415
    from pyjobs.server.db.upgrade import upgrade  # noqa: PLC0415

    database = Database(load_settings().database)
    upgrade(database)
    database.dispose()
    click.echo("pyjobs: database is up to date", err=True)
