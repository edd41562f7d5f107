"""Servers under load: `pyjobs serve` and the bare baseline as child processes, databases
for them, and windows of load from the load generator's own process.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import httpx

# The throwaway databases of the tests serve the benchmarks too.
from bench.loadgen import LoadConfig, LoadReport
from bench.workspace import Workspace
from pyjobs.server.app import UVICORN_OPTIONS

_REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ChildServer:
    """A server in a child process on a loopback port, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.port = free_port()
        self.argv = [part.replace("{port}", str(self.port)) for part in argv]
        self.env = dict(env)
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The server process's id."""
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        """Start it (`wait_ready` waits until it serves)."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv, env=self.env, cwd=_REPO, stdout=out, stderr=subprocess.STDOUT
            )

    def wait_ready(self) -> None:
        """Wait until /readyz answers 200."""
        assert self.process is not None
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM, then wait (SIGKILL if it will not go)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def serving(servers: list[ChildServer]) -> Iterator[list[ChildServer]]:
    """Start every server (at once: start-up is most of a smoke run); stop them all after."""
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()


def bare_server(workspace: Workspace, name: str = "bare FastAPI") -> ChildServer:
    """The bare FastAPI baseline, served with `pyjobs serve`'s uvicorn options."""
    argv = [sys.executable, "-m", "bench.bare_app", "{port}", json.dumps(UVICORN_OPTIONS)]
    log = workspace.root / f"{name.replace(' ', '-')}.log"
    return ChildServer(name, argv, os.environ, log)


def pyjobs_server(workspace: Workspace, name: str, database_url: str) -> ChildServer:
    """`pyjobs serve` on `database_url` with dispatching off: runs are stored, never started."""
    home = workspace.directory(f"home-{name}")
    env = {
        **os.environ,
        "PYJOBS_HOME": str(home),
        "PYJOBS_DATABASE_URL": database_url,
        "PYJOBS_SANDBOX_ROOT": str(home / "sandbox"),
        # The API path alone: a run started now would compete for the same two cores.
        "PYJOBS_DISPATCH": "false",
    }
    argv = [str(workspace.pyjobs_command()), "serve", "--port", "{port}"]
    return ChildServer(f"pyjobs serve ({name})", argv, env, home / "serve.log")


def load(config: LoadConfig) -> LoadReport:
    """One window of load from a separate process (its CPU is then its own and measurable)."""
    with tempfile.TemporaryDirectory(prefix="pyjobs-load-") as scratch:
        output = Path(scratch) / "report.json"
        argv = [sys.executable, "-m", "bench.loadgen", json.dumps(asdict(config)), str(output)]
        done = subprocess.run(argv, cwd=_REPO, capture_output=True, check=False, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"load generator failed: {done.stderr.decode()[-2000:]}")
        report = LoadReport(**json.loads(output.read_text(encoding="utf-8")))
    if report.errors or not report.requests:
        raise RuntimeError(
            f"{config.url}: {report.errors} errors, {report.requests} answered: "
            f"{report.first_error}"
        )
    return report


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (0.99 → p99) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def median(values: list[float]) -> float:
    """The median, for the notes."""
    return statistics.median(values)
