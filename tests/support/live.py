"""A real pyjobs server on a loopback port: in a thread, or as a separate process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from pyjobs.config import SandboxSetting, Settings
from pyjobs.server.app import create_app
from pyjobs.server.auth import create_token
from pyjobs.server.db.engine import Database
from pyjobs.server.db.upgrade import upgrade


def wait_final(api: httpx.Client, task_id: str, timeout: float = 300) -> dict[str, Any]:
    """Poll `tasks/{id}` (under the client's `/api/v1` base URL) until the task has ended."""
    deadline = time.monotonic() + timeout
    while True:
        task: dict[str, Any] = api.get(f"/tasks/{task_id}").json()
        if task["status"] in ("succeeded", "failed", "cancelled"):
            return task
        assert time.monotonic() < deadline, task
        time.sleep(0.1)


def token_for(settings: Settings, name: str) -> str:
    """A new API token on the server's database (migrated first): its secret."""
    database = Database(settings.database)
    try:
        upgrade(database)
        return create_token(database, name).secret
    finally:
        database.dispose()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_settings(home: Path, database_url: str, sandbox_root: Path) -> Settings:
    """Settings of a test server: a private home, the session's env cache, real bubblewrap."""
    return Settings(
        home=home,
        database_url=database_url,
        sandbox=SandboxSetting.BWRAP,
        sandbox_root=sandbox_root,
        max_concurrent=2,
    )


@contextmanager
def server_thread(settings: Settings) -> Iterator[str]:
    """Serve `create_app(settings)` with uvicorn in a thread; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the server thread died while starting"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


class ServerProcess:
    """`pyjobs serve` as a child process, which tests may kill -9 and start again."""

    def __init__(self, env: Mapping[str, str], log: Path) -> None:
        self.env = dict(env)
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start it and wait until /readyz answers."""
        pyjobs = str(Path(sys.executable).parent / "pyjobs")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [pyjobs, "serve", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, self.log.read_text()[-3000:]
            time.sleep(0.1)

    def kill(self) -> None:
        """kill -9, as a crash would."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """SIGTERM, as an orderly shutdown."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)
