"""The load generator, a process of its own: N keep-alive clients, one request each at a time.

`python -m bench.loadgen CONFIG_JSON REPORT_PATH` writes one JSON document to REPORT_PATH:
requests completed in the measured window, their latencies, errors, and the CPU time of
this process and of the server over that window. It speaks HTTP/1.1 itself (asyncio on
uvloop, httptools' C parser): httpx would spend more CPU per request than the bare
endpoint it measures, on the same two cores, and the baseline would then measure the
client.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

import httptools
import uvloop


@dataclass(frozen=True)
class LoadConfig:
    """What to send, with how many clients, for how long."""

    url: str
    method: str = "GET"
    body: str = ""
    expect: int = 200
    clients: int = 16
    warmup_seconds: float = 2.0
    seconds: float = 10.0
    server_pid: int | None = None


@dataclass
class LoadReport:
    """What one window measured (latencies in seconds, in completion order)."""

    requests: int = 0
    errors: int = 0
    window_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    client_cpu_seconds: float = 0.0
    server_cpu_seconds: float | None = None
    first_error: str = ""


def cpu_seconds_of(pid: int) -> float:
    """User + system CPU time of a process and all its threads so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Connection(asyncio.Protocol):
    """One keep-alive connection that sends a request and waits for its complete response."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiting: asyncio.Future[tuple[int, bytes]] | None = None
        self.body = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_result((self.parser.get_status_code(), bytes(self.body)))
        self.body.clear()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_exception(ConnectionError(f"connection lost: {exc}"))

    async def send(self, request: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiting = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiting


def raw_request(config: LoadConfig) -> bytes:
    """The request's bytes, built once and sent as they are every time."""
    url = urlsplit(config.url)
    path = url.path + (f"?{url.query}" if url.query else "")
    body = config.body.encode()
    head = f"{config.method} {path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


async def measure(config: LoadConfig) -> LoadReport:
    """Run the clients through the warm-up and the window; report the window."""
    url = urlsplit(config.url)
    loop = asyncio.get_running_loop()
    request = raw_request(config)
    report = LoadReport()
    clock = time.perf_counter
    start = clock() + config.warmup_seconds
    end = start + config.seconds
    marks: dict[str, float] = {}

    def mark_start() -> None:
        marks["client"] = time.process_time()
        if config.server_pid is not None:
            marks["server"] = cpu_seconds_of(config.server_pid)

    def mark_end() -> None:
        report.client_cpu_seconds = time.process_time() - marks["client"]
        if config.server_pid is not None:
            report.server_cpu_seconds = cpu_seconds_of(config.server_pid) - marks["server"]

    loop.call_at(loop.time() + config.warmup_seconds, mark_start)
    loop.call_at(loop.time() + config.warmup_seconds + config.seconds, mark_end)

    async def client() -> None:
        _, connection = await loop.create_connection(
            _Connection, url.hostname or "127.0.0.1", url.port or 80
        )
        try:
            while (sent := clock()) < end:
                try:
                    status, body = await connection.send(request)
                except ConnectionError as error:
                    report.errors += 1
                    report.first_error = report.first_error or str(error)
                    return
                done = clock()
                if start <= done <= end:
                    if status == config.expect:
                        report.requests += 1
                        report.latencies.append(done - sent)
                    else:
                        report.errors += 1
                        report.first_error = report.first_error or f"{status} {body[:300]!r}"
        finally:
            if connection.transport is not None:
                connection.transport.close()

    await asyncio.gather(*(client() for _ in range(config.clients)))
    report.window_seconds = config.seconds
    await asyncio.sleep(0.05)  # let mark_end run if the last response landed just before it
    return report


def main() -> None:
    """Read the configuration from argv[1] (JSON), measure, write the report to argv[2]."""
    config = LoadConfig(**json.loads(sys.argv[1]))
    report = uvloop.run(measure(config))
    # A file, not stdout: a fast window's latencies run to megabytes, and one such report
    # read back from a pipe arrived cut in two.
    Path(sys.argv[2]).write_text(json.dumps(asdict(report)), encoding="utf-8")


if __name__ == "__main__":
    main()
