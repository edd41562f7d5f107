"""The one place where errors become HTTP answers: `{"error": {"code", "message", "field"}}`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from pyjobs.errors import (
    ConflictError,
    ExecutorClosedError,
    ForbiddenError,
    InvalidTaskError,
    NotFoundError,
    PayloadTooLargeError,
    PyjobsError,
    ShuttingDownError,
    UnauthorizedError,
)

logger = logging.getLogger(__name__)

_HTTP: list[tuple[type[PyjobsError], int, str]] = [
    (InvalidTaskError, 422, "invalid_request"),
    (NotFoundError, 404, "not_found"),
    (ConflictError, 409, "conflict"),
    (UnauthorizedError, 401, "unauthorized"),
    (ForbiddenError, 403, "forbidden"),
    (PayloadTooLargeError, 413, "payload_too_large"),
    (ExecutorClosedError, 503, "unavailable"),
    (ShuttingDownError, 503, "unavailable"),
]
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    """An error answer in the API's shape."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {"error": {"code": code, "message": message, "field": field}}, status, headers=headers
    )


def _pyjobs_error(_request: Request, error: Exception) -> JSONResponse:
    for kind, status, code in _HTTP:
        if isinstance(error, kind):
            field = error.field if isinstance(error, InvalidTaskError) else None
            message = error.message if isinstance(error, InvalidTaskError) else str(error)
            return error_response(status, code, message, field)
    logger.exception("unmapped pyjobs error", exc_info=error)
    return error_response(500, "internal_error", "internal error")


def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, RequestValidationError):
        return _unexpected(_request, error)
    first = error.errors()[0]
    location = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    if first.get("type") == "json_invalid":
        return error_response(422, "invalid_request", "the body is not valid JSON", "body")
    translated = field_errors_from(first, location)
    return error_response(422, "invalid_request", translated[1], translated[0])


def field_errors_from(item: dict[str, object], location: list[str]) -> tuple[str, str]:
    """(field, message) of one FastAPI validation error item, input never echoed."""
    if item.get("type") == "extra_forbidden":
        return ".".join(location) or "body", "unknown field"
    field = ""
    for part in location:
        field += f"[{part}]" if part.isdigit() else (f".{part}" if field else part)
    return field or "body", str(item.get("msg", "invalid"))


def _http_error(_request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, HTTPException):
        return _unexpected(_request, error)
    code = _HTTP_CODES.get(error.status_code, "error")
    return error_response(error.status_code, code, str(error.detail))


def _unexpected(_request: Request, error: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=error)
    return error_response(500, "internal_error", "internal error")


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    app.add_exception_handler(PyjobsError, _pyjobs_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
