"""Tokens and ownership: 401 without a valid token, 404 for other people's tasks."""

from __future__ import annotations

import httpx

from pyjobs.config import Settings
from pyjobs.server.auth import TOKEN_PREFIX, create_token, hash_token
from pyjobs.server.db.engine import Database
from pyjobs.server.db.models import Token
from pyjobs.server.db.upgrade import upgrade
from pyjobs.server.deps import is_loopback
from tests.support.live import server_thread


def test_tokens_and_ownership(settings: Settings) -> None:
    database = Database(settings.database)
    upgrade(database)
    alice = create_token(database, "alice")
    bob = create_token(database, "bob")
    admin = create_token(database, "ops", admin=True)
    with database.session() as session:
        stored = {t.name: t.token_hash for t in session.query(Token)}
    database.dispose()
    assert alice.secret.startswith(TOKEN_PREFIX)
    assert stored["alice"] == hash_token(alice.secret)
    assert alice.secret not in stored.values()  # only the hash is kept

    with server_thread(settings) as url:
        base = f"{url}/api/v1"

        def client(secret: str | None) -> httpx.Client:
            headers = {"Authorization": f"Bearer {secret}"} if secret else {}
            return httpx.Client(base_url=base, headers=headers, timeout=60)

        with (
            client(None) as anonymous,
            client("pjt_wrong") as wrong,
            client(alice.secret) as as_alice,
            client(bob.secret) as as_bob,
            client(admin.secret) as as_admin,
        ):
            missing = anonymous.get("/tasks")
            assert missing.status_code == 401
            assert missing.headers["www-authenticate"] == "Bearer"
            assert missing.json()["error"]["code"] == "unauthorized"
            assert wrong.get("/tasks").status_code == 401
            assert anonymous.post("/tasks/submit", json={"python_code": "1"}).status_code == 401
            created = as_alice.post("/tasks/submit", json={"python_code": "print('alice')"})
            assert created.status_code == 201
            task_id = created.json()["id"]
            assert as_alice.get(f"/tasks/{task_id}").status_code == 200
            for path in (
                f"/tasks/{task_id}",
                f"/tasks/{task_id}/logs",
                f"/tasks/{task_id}/manifest",
            ):
                assert as_bob.get(path).status_code == 404
            assert as_bob.post(f"/tasks/{task_id}/cancel").status_code == 404
            assert as_bob.post(f"/tasks/{task_id}/run").status_code == 404
            assert as_bob.delete(f"/tasks/{task_id}").status_code == 404
            assert as_bob.get("/tasks").json()["data"] == []
            assert [t["id"] for t in as_alice.get("/tasks").json()["data"]] == [task_id]
            assert [t["id"] for t in as_admin.get("/tasks").json()["data"]] == [task_id]
            assert as_admin.get(f"/tasks/{task_id}").status_code == 200
            # The same idempotency key of two owners names two different tasks.
            key = {"Idempotency-Key": "same"}
            a = as_alice.post("/tasks/submit", json={"python_code": "1"}, headers=key)
            b = as_bob.post("/tasks/submit", json={"python_code": "1"}, headers=key)
            assert a.json()["id"] != b.json()["id"]
        assert httpx.get(f"{url}/healthz").status_code == 200  # no token needed


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("127.5.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("10.0.0.1")
    assert not is_loopback("0.0.0.0")  # noqa: S104 - the address under test
    assert not is_loopback(None)
