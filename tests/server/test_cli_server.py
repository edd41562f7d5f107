"""`pyjobs serve`, `pyjobs token create`, `pyjobs db upgrade` from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect, select

from pyjobs.server.auth import hash_token
from pyjobs.server.db.engine import Database
from pyjobs.server.db.models import Token

PYJOBS = str(Path(sys.executable).parent / "pyjobs")


def pyjobs(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYJOBS_HOME": str(home)}
    env.pop("PYJOBS_DATABASE_URL", None)
    return subprocess.run(
        [PYJOBS, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    done = pyjobs(tmp_path, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    database = Database(f"sqlite:///{tmp_path / 'pyjobs.db'}")
    assert {"tasks", "runs", "tokens"} <= set(inspect(database.engine).get_table_names())
    database.dispose()


def test_token_create_prints_the_secret_once_and_stores_its_hash(tmp_path: Path) -> None:
    done = pyjobs(tmp_path, "token", "create", "ci-bot", "--admin")
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip()
    assert secret.startswith("pjt_")
    assert "'ci-bot' (admin) created" in done.stderr
    database = Database(f"sqlite:///{tmp_path / 'pyjobs.db'}")
    with database.session() as session:
        token = session.scalar(select(Token).where(Token.name == "ci-bot"))
        assert token is not None
        assert token.admin
        assert token.token_hash == hash_token(secret)
    database.dispose()
    again = pyjobs(tmp_path, "token", "create", "ci-bot")
    assert again.returncode == 2
    assert again.stderr == "pyjobs: a token named 'ci-bot' already exists\n"


def test_serve_refuses_a_public_host_without_tokens(tmp_path: Path) -> None:
    done = pyjobs(tmp_path, "serve", "--host", "0.0.0.0", "--port", "1")  # noqa: S104
    assert done.returncode == 2
    assert done.stderr.startswith("pyjobs: refusing to serve on 0.0.0.0 without API tokens")
