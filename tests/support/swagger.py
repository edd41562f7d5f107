"""Requests checked against the Argo Server's OpenAPI 2.0 spec (`shared/argo/swagger.json`).

A request passes only if its path and method are in the spec, every query parameter is
declared for that operation with a value of the declared type, and its body is present
exactly when the operation takes one and is valid against the declared definition, made
strict like the Workflow schema (unknown keys are errors).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from tests.support.argo_schema import strict_definitions
from tests.support.host import SHARED

SWAGGER = SHARED / "argo" / "swagger.json"
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class SpecViolation(Exception):
    """A request the spec does not allow, with the HTTP status a server would answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Operation:
    """One operation of the spec, matched to a request."""

    operation_id: str
    template: str
    method: str
    parameters: tuple[dict[str, Any], ...]
    path_params: dict[str, str]

    def body_schema(self) -> dict[str, Any] | None:
        """The schema of the body parameter, if the operation takes one."""
        for parameter in self.parameters:
            if parameter["in"] == "body":
                schema: dict[str, Any] = parameter["schema"]
                return schema
        return None


@dataclass(frozen=True)
class _Route:
    template: str
    pattern: re.Pattern[str]
    literals: int
    operations: dict[str, dict[str, Any]]
    shared_parameters: tuple[dict[str, Any], ...]


def _route(template: str, item: dict[str, Any]) -> _Route:
    parts = template.strip("/").split("/")
    regex = "/".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    operations = {m: item[m] for m in _METHODS if m in item}
    literals = sum(not p.startswith("{") for p in parts)
    return _Route(
        template,
        re.compile(f"/{regex}"),
        literals,
        operations,
        tuple(item.get("parameters", [])),
    )


class SwaggerSpec:
    """The spec's routes and definitions, ready to check requests."""

    def __init__(self, path: Path = SWAGGER) -> None:
        document = json.loads(path.read_text())
        self.definitions = strict_definitions(document["definitions"])
        routes = [_route(t, item) for t, item in document["paths"].items()]
        # A literal segment beats a parameter (`…/lint` before `…/{name}`).
        self.routes = sorted(routes, key=lambda r: -r.literals)
        self._validators: dict[str, jsonschema.Draft4Validator] = {}

    def match(self, method: str, path: str) -> Operation:
        """The operation of a request; 404 for an unknown path, 405 for a wrong method."""
        matches = [(r, found) for r in self.routes if (found := r.pattern.fullmatch(path))]
        if not matches:
            raise SpecViolation(404, f"no such path in the Argo Server API: {path}")
        for route, found in matches:
            operation = route.operations.get(method.lower())
            if operation is not None:
                parameters = route.shared_parameters + tuple(operation.get("parameters", []))
                return Operation(
                    operation["operationId"],
                    route.template,
                    method.upper(),
                    parameters,
                    found.groupdict(),
                )
        raise SpecViolation(405, f"{method} is not allowed on {path}")

    def check_query(self, operation: Operation, query: dict[str, list[str]]) -> None:
        """Every query parameter declared, each value of its declared type."""
        declared = {p["name"]: p for p in operation.parameters if p["in"] == "query"}
        for name, values in query.items():
            parameter = declared.get(name)
            if parameter is None:
                raise SpecViolation(400, f"{operation.operation_id}: unknown parameter {name!r}")
            kind = parameter.get("type")
            if kind != "array" and len(values) > 1:
                raise SpecViolation(400, f"{name}: given {len(values)} times")
            for value in values:
                _check_value(name, kind, value, parameter)

    def check_body(self, operation: Operation, body: bytes, content_type: str) -> Any:
        """The body parsed and validated; an error when the operation takes none."""
        schema = operation.body_schema()
        if schema is None:
            if body:
                raise SpecViolation(400, f"{operation.operation_id} takes no body")
            return None
        if not body:
            raise SpecViolation(400, f"{operation.operation_id} needs a body")
        if not content_type.startswith("application/json"):
            raise SpecViolation(415, f"body must be application/json, not {content_type!r}")
        try:
            parsed = json.loads(body)
        except ValueError as error:
            raise SpecViolation(400, f"body is not JSON: {error}") from error
        errors = sorted(
            self._validator(schema["$ref"]).iter_errors(parsed), key=lambda e: list(e.path)
        )
        if errors:
            where = "/".join(map(str, errors[0].absolute_path))
            raise SpecViolation(400, f"body: {where}: {errors[0].message}")
        return parsed

    def _validator(self, ref: str) -> jsonschema.Draft4Validator:
        if ref not in self._validators:
            self._validators[ref] = jsonschema.Draft4Validator(
                {"$ref": ref, "definitions": self.definitions}
            )
        return self._validators[ref]


def _check_value(name: str, kind: str | None, value: str, parameter: dict[str, Any]) -> None:
    if kind == "boolean" and value not in ("true", "false"):
        raise SpecViolation(400, f"{name}: {value!r} is not a boolean")
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        raise SpecViolation(400, f"{name}: {value!r} is not an integer")
    allowed = parameter.get("enum") or parameter.get("items", {}).get("enum")
    if allowed and value not in allowed:
        raise SpecViolation(400, f"{name}: {value!r} is not one of {allowed}")


@cache
def argo_api() -> SwaggerSpec:
    """The spec, loaded once per test session."""
    return SwaggerSpec()
