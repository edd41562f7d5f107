"""The client's side of `server/httperrors.py`: error answers back into `pyjobs.errors`."""

from __future__ import annotations

import re

import httpx
from pydantic import ValidationError

from pyjobs.errors import (
    ApiError,
    ConflictError,
    ForbiddenError,
    InvalidTaskError,
    NotFoundError,
    PayloadTooLargeError,
    PyjobsError,
    ServerUnreachableError,
    UnauthorizedError,
)
from pyjobs.server.schemas import ErrorBody, ErrorResponse

# The server's messages for these carry the error's context; read it back.
_NOT_FOUND = re.compile(r"(?P<what>\w+) '(?P<key>.*)' not found")
_SIZE_LIMIT = re.compile(r"larger than (?P<limit>\d+) bytes")
_ERRNO = re.compile(r"^\[Errno -?\d+\]\s*")
_MAX_MESSAGE = 300
_PLAIN: dict[int, type[ConflictError | UnauthorizedError | ForbiddenError]] = {
    401: UnauthorizedError,
    403: ForbiddenError,
    409: ConflictError,
}


def error_from(response: httpx.Response) -> PyjobsError:
    """The exception an error answer (4xx, 5xx) stands for; the body must have been read."""
    body = _body_of(response)
    status = response.status_code
    if status in _PLAIN:
        return _PLAIN[status](body.message)
    if status == 422:
        return InvalidTaskError.single(body.field or "body", body.message)
    if status == 404:
        return _not_found(body, response)
    if status == 413:
        limit = _SIZE_LIMIT.search(body.message)
        return PayloadTooLargeError(int(limit["limit"]) if limit else None)
    return ApiError(status, body.message, body.code or None)


def unreachable(url: str, error: httpx.TransportError) -> ServerUnreachableError:
    """The error of a request that got no answer: refused, timed out, cut off."""
    reason = _ERRNO.sub("", str(error)).strip() or type(error).__name__
    if isinstance(error, httpx.TimeoutException) and "time" not in reason.lower():
        reason = f"timed out: {reason}"
    return ServerUnreachableError(url, reason)


def _not_found(body: ErrorBody, response: httpx.Response) -> NotFoundError:
    found = _NOT_FOUND.fullmatch(body.message)
    if found:
        return NotFoundError(found["what"], found["key"])
    # Not an answer of the API's routes: PYJOBS_URL may point at something else.
    return NotFoundError("path", response.request.url.path)


def _body_of(response: httpx.Response) -> ErrorBody:
    try:
        return ErrorResponse.model_validate_json(response.content).error
    except ValidationError:
        # Not the API's error shape (a proxy's page, a crash): keep a short, plain excerpt.
        text = " ".join(response.text.split())[:_MAX_MESSAGE]
        return ErrorBody(code="", message=text or response.reason_phrase or "error")
