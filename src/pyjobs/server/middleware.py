"""ASGI middleware: request body size limit and structured access logs."""

from __future__ import annotations

import json
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pyjobs.server.httperrors import error_response

access_log = logging.getLogger("pyjobs.access")


class BodyLimit:
    """Refuse bodies over `limit` bytes with 413, before and while they are read."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check Content-Length up front, count streamed bytes as they arrive."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._too_large(scope, receive, send)
            return
        if length is not None:
            await self.app(scope, receive, send)
            return
        # No length (chunked): read it all first, up to the limit, then replay it. Bodies
        # here are small (2 MiB at most), and an error raised mid-read would reach the
        # client as FastAPI's generic 400 instead of 413.
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await self._too_large(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, "payload_too_large", f"request body larger than {self.limit} bytes"
        )
        await response(scope, receive, send)


class AccessLog:
    """One JSON line per request: method, path, status, duration, client."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request and log it when the response has started."""
        if scope["type"] != "http" or not access_log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watching(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watching)
        finally:
            client = scope.get("client")
            # The JSON object is spelled out: json.dumps of a dict cost as much as the rest
            # of the line. Only the strings can need escaping.
            access_log.info(
                '{"method": %s, "path": %s, "status": %d, "ms": %.2f, "client": %s}',
                _json_string(scope["method"]),
                _json_string(scope["path"]),
                status,
                (time.perf_counter() - started) * 1000,
                _json_string(client[0]) if client else "null",
            )


_json_string = json.JSONEncoder(ensure_ascii=False).encode
