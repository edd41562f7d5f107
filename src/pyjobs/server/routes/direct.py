"""A route whose endpoint reads the request and answers the response itself.

FastAPI documents it like any other (parameters, body and answer come from what the route
declares), but serves it without solving parameters or validating the answer: for the
busiest route those were a fifth of a request's CPU. The endpoint does both itself, with
the same functions the dependencies use, so what it checks and answers is the same.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast

from fastapi import Request, Response
from fastapi.routing import APIRoute

Endpoint = Callable[[Request], Awaitable[Response]]


class DirectRoute(APIRoute):
    """An `APIRoute` that hands its endpoint the `Request` and sends what it returns."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The endpoint itself, called with the request."""
        endpoint = cast(Endpoint, self.endpoint)

        async def handler(request: Request) -> Response:
            return await endpoint(request)

        return handler
