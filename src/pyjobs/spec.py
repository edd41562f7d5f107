"""`TaskSpec`: the one validated description of a task, built at the edge from a request."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cached_property
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from pyjobs.errors import FieldError, InvalidTaskError
from pyjobs.requirements import (
    MAX_REQUIREMENTS,
    RequirementError,
    RequirementLine,
    parse_requirement,
    parse_requirements_file,
    show,
    split_dependencies,
)

MAX_CODE_BYTES = 256 * 1024
MAX_ENV_VARS = 100
MAX_ENV_BYTES = 64 * 1024
MAX_TIMEOUT_SECONDS = 86_400
DEFAULT_TIMEOUT_SECONDS = 3600

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
# The job's own variables: the script and the platform set these, a user may not.
RESERVED_ENV_NAMES = frozenset({"DEPENDENCIES", "HOME", "PATH", "VIRTUAL_ENV", "PYTHONUNBUFFERED"})
RESERVED_ENV_PREFIXES = ("PYJOBS_", "ARGO_", "UV_")


def _error(message: str) -> PydanticCustomError:
    # A custom error keeps pydantic from prefixing "Value error, " and from echoing input.
    return PydanticCustomError("pyjobs", message)


def _check_text(value: str, what: str) -> str:
    if "\x00" in value:
        raise _error(f"{what} contains a NUL byte")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _error(f"{what} is not valid Unicode (lone surrogate)") from None
    return value


def _check_code(code: str) -> str:
    _check_text(code, "code")
    size = len(code.encode("utf-8"))
    if size == 0:
        raise _error("code is empty")
    if size > MAX_CODE_BYTES:
        raise _error(f"code is {size} bytes, more than the limit of {MAX_CODE_BYTES}")
    return code


def _to_dependency_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return split_dependencies(value)
    return value


def _check_dependency(value: str) -> str:
    _check_text(value, "dependency")
    try:
        return parse_requirement(value)
    except RequirementError as error:
        raise _error(str(error)) from None


def _check_dependencies(values: tuple[str, ...]) -> tuple[str, ...]:
    if len(values) > MAX_REQUIREMENTS:
        raise _error(f"{len(values)} dependencies, more than the limit of {MAX_REQUIREMENTS}")
    return tuple(dict.fromkeys(values))  # drop exact duplicates, keep the order given


def _check_namespace(value: str) -> str:
    if not _DNS1123_LABEL.fullmatch(value):
        raise _error(f"{show(value)} is not a DNS-1123 label (a-z, 0-9, '-', at most 63)")
    return value


Dependency = Annotated[str, AfterValidator(_check_dependency)]


class TaskSpec(BaseModel):
    """What to run and how: code, packages, limits. Immutable once validated."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        loc_by_alias=False,
        hide_input_in_errors=True,
    )

    python_code: Annotated[str, AfterValidator(_check_code)] = Field(
        description="Python source, run byte-for-byte as given (1 byte to 256 KiB of UTF-8)."
    )
    dependencies: Annotated[
        tuple[Dependency, ...],
        BeforeValidator(_to_dependency_list),
        AfterValidator(_check_dependencies),
    ] = Field(default=(), description="PEP 508 requirements; a string is split on spaces/commas.")
    requirements_file: str | None = Field(
        default=None, description="requirements.txt text: requirements, comments, --hash."
    )
    timeout_seconds: int = Field(
        default=DEFAULT_TIMEOUT_SECONDS, ge=1, le=MAX_TIMEOUT_SECONDS, strict=False
    )
    memory_mb: int | None = Field(default=None, ge=16, le=1_048_576)
    cpu: float | None = Field(default=None, ge=0.001, le=256, description="CPU cores.")
    env: dict[str, str] = Field(default_factory=dict, description="Variables for the code.")
    network: bool = Field(default=True, description="False: the code runs with no network.")
    namespace: Annotated[str, AfterValidator(_check_namespace)] | None = Field(
        default=None, description="Kubernetes namespace; default PYJOBS_ARGO_NAMESPACE."
    )

    @field_validator("requirements_file")
    @classmethod
    def _check_requirements_file(cls, value: str | None) -> str | None:
        if value is None:
            return None
        _check_text(value, "requirements file")
        try:
            parse_requirements_file(value)
        except RequirementError as error:
            raise _error(str(error)) from None
        return value

    @field_validator("env")
    @classmethod
    def _check_env(cls, env: dict[str, str]) -> dict[str, str]:
        if len(env) > MAX_ENV_VARS:
            raise _error(f"{len(env)} variables, more than the limit of {MAX_ENV_VARS}")
        total = 0
        for name, value in env.items():
            if not _ENV_NAME.fullmatch(name):
                raise _error(f"{show(name)} is not a valid variable name")
            if name in RESERVED_ENV_NAMES or name.startswith(RESERVED_ENV_PREFIXES):
                raise _error(f"{show(name)} is reserved for the job itself")
            _check_text(value, f"the value of {name}")
            total += len(name) + len(value.encode("utf-8")) + 2
        if total > MAX_ENV_BYTES:
            raise _error(f"variables take {total} bytes, more than the limit of {MAX_ENV_BYTES}")
        return env

    @cached_property
    def requirement_lines(self) -> tuple[RequirementLine, ...]:
        """The parsed lines of the requirements file (empty without one)."""
        if self.requirements_file is None:
            return ()
        return parse_requirements_file(self.requirements_file)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> TaskSpec:
        """Validate a request body; raise `InvalidTaskError` naming each offending field."""
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise InvalidTaskError(field_errors(error)) from None


def _field_name(location: tuple[int | str, ...]) -> str:
    name = ""
    for part in location:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else part
    return name or "body"


def field_errors(error: ValidationError) -> list[FieldError]:
    """Translate pydantic's errors into pyjobs' (field, message) pairs, without input echo."""
    errors = []
    for item in error.errors(include_input=False, include_url=False):
        location = tuple(item["loc"])
        if item["type"] == "extra_forbidden":
            errors.append(FieldError(_field_name(location), "unknown field"))
            continue
        # Dict-key failures put the key at the end with a "[key]" marker; keep the dict name.
        location = tuple(p for p in location if p != "[key]")
        errors.append(FieldError(_field_name(location), item["msg"]))
    return errors
