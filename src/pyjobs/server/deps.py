"""FastAPI dependencies: the service, the settings and who is calling."""

from __future__ import annotations

import functools
import ipaddress
from typing import Annotated, Any

from anyio import to_thread
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError

from pyjobs.config import Settings
from pyjobs.errors import ForbiddenError, UnauthorizedError
from pyjobs.server.auth import TokenChecker
from pyjobs.server.service import Principal, TaskService

# The dependencies are coroutines: FastAPI runs a plain function dependency in a worker
# thread, and three thread hops per request cost more than the submit itself.


# The Idempotency-Key header: at most this long, as OpenAPI documents it.
IDEMPOTENCY_KEY_MAX = 200
IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "idempotency-key",
    "in": "header",
    "required": False,
    "description": "A retried submit with the same key answers the same task.",
    "schema": {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX},
}


def service_of(request: Request) -> TaskService:
    """The application's task service."""
    service: TaskService = request.app.state.service
    return service


async def _service(request: Request) -> TaskService:
    return service_of(request)


def header_of(request: Request, name: bytes) -> str | None:
    """The value of a request header (`name` in lower case, as ASGI gives names), or None.

    One pass over the raw headers: Starlette's lookup raises and catches a KeyError for
    every header that is absent, which cost more than the rest of reading the caller.
    """
    headers: list[tuple[bytes, bytes]] = request.scope["headers"]
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def idempotency_key_of(request: Request) -> str | None:
    """The request's Idempotency-Key, checked as FastAPI checks a declared header."""
    key = header_of(request, b"idempotency-key")
    if key is not None and len(key) > IDEMPOTENCY_KEY_MAX:
        raise RequestValidationError(
            [
                {
                    "type": "string_too_long",
                    "loc": ("header", "idempotency-key"),
                    "msg": f"String should have at most {IDEMPOTENCY_KEY_MAX} characters",
                }
            ]
        )
    return key


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# Cached: parsing the client's address on every request was 2% of a submit's CPU.
@functools.lru_cache(maxsize=4096)
def is_loopback(host: str | None) -> bool:
    """Whether a client address is this machine's loopback."""
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


# Who calls a loopback-only server without tokens: its local user, as admin.
LOCAL_ADMIN = Principal(None, admin=True)


async def principal_of(request: Request) -> Principal:
    """Who is calling: the bearer token's owner, or the local admin of a loopback server."""
    checker: TokenChecker = request.app.state.tokens
    # Answers are cached for seconds: the database (off the event loop) only when they expire.
    tokens_exist = checker.tokens_exist_cached()
    if tokens_exist is None:
        tokens_exist = await to_thread.run_sync(checker.tokens_exist)
    if tokens_exist:
        scheme, _, token = (header_of(request, b"authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthorizedError("a bearer token is required (Authorization: Bearer …)")
        identity = checker.identify_cached(token.strip())
        if identity is None:
            identity = await to_thread.run_sync(checker.identify, token.strip())
        return Principal(identity.token_id, identity.admin)
    # No tokens configured: a loopback-only server where the local user is the admin
    # (unless started with --insecure, which opens it to everyone).
    if not request.app.state.insecure:
        client = request.scope.get("client")
        if not is_loopback(client[0] if client else None):
            raise ForbiddenError("this server has no tokens and serves only its own machine")
    return LOCAL_ADMIN


ServiceDep = Annotated[TaskService, Depends(_service)]
SettingsDep = Annotated[Settings, Depends(_settings)]
PrincipalDep = Annotated[Principal, Depends(principal_of)]
