"""TaskSpec: every rule of DESIGN.md's task-request table, with structured errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pyjobs.errors import InvalidTaskError
from pyjobs.spec import MAX_CODE_BYTES, TaskSpec


def refused(request: dict[str, Any]) -> InvalidTaskError:
    with pytest.raises(InvalidTaskError) as caught:
        TaskSpec.parse(request)
    return caught.value


def test_defaults() -> None:
    spec = TaskSpec.parse({"python_code": "print(1)"})
    assert spec.dependencies == ()
    assert spec.requirements_file is None
    assert spec.timeout_seconds == 3600
    assert (spec.memory_mb, spec.cpu, spec.namespace) == (None, None, None)
    assert spec.env == {}
    assert spec.network is True


def test_camel_case_aliases_and_snake_case_both_work() -> None:
    camel = TaskSpec.parse(
        {
            "pythonCode": "print(1)",
            "requirementsFile": "six\n",
            "timeoutSeconds": 5,
            "memoryMb": 64,
        }
    )
    snake = TaskSpec.parse(
        {
            "python_code": "print(1)",
            "requirements_file": "six\n",
            "timeout_seconds": 5,
            "memory_mb": 64,
        }
    )
    assert camel == snake


def test_dependencies_as_string_or_list_are_normalised() -> None:
    as_string = TaskSpec.parse({"python_code": "1", "dependencies": "numpy>=1.24,<2, pandas"})
    as_list = TaskSpec.parse({"python_code": "1", "dependencies": ["numpy<2,>=1.24", "pandas"]})
    assert as_string.dependencies == as_list.dependencies == ("numpy<2,>=1.24", "pandas")


def test_duplicate_dependencies_are_dropped_in_order() -> None:
    spec = TaskSpec.parse({"python_code": "1", "dependencies": ["six", "numpy", "six"]})
    assert spec.dependencies == ("six", "numpy")


def test_code_runs_as_given_byte_for_byte() -> None:
    code = "print('x')  \r\n\t# trailing spaces and CRLF kept  \n\n"
    assert TaskSpec.parse({"python_code": code}).python_code == code


def test_code_size_limits() -> None:
    assert refused({"python_code": ""}).message == "code is empty"
    largest = "#" * MAX_CODE_BYTES
    assert TaskSpec.parse({"python_code": largest}).python_code == largest
    error = refused({"python_code": "é" * (MAX_CODE_BYTES // 2 + 1)})
    assert (error.field, error.message) == (
        "python_code",
        f"code is {MAX_CODE_BYTES + 2} bytes, more than the limit of {MAX_CODE_BYTES}",
    )


@pytest.mark.parametrize(
    ("request_", "field", "message"),
    [
        ({"python_code": "a\x00b"}, "python_code", "code contains a NUL byte"),
        ({"python_code": "\ud800"}, "python_code", "code is not valid Unicode (lone surrogate)"),
        ({}, "python_code", "Field required"),
        ({"python_code": 5}, "python_code", "Input should be a valid string"),
        (
            {"python_code": "1", "dependencies": ["six", "numpy; rm -rf /"]},
            "dependencies[1]",
            "not a valid PEP 508 requirement: 'numpy; rm -rf /'",
        ),
        (
            {"python_code": "1", "dependencies": ["-e git+https://example.invalid/x"]},
            "dependencies[0]",
            "options are not allowed: '-e'",
        ),
        (
            {"python_code": "1", "dependencies": [f"p{i}" for i in range(201)]},
            "dependencies",
            "201 dependencies, more than the limit of 200",
        ),
        (
            {"python_code": "1", "requirements_file": "six\n--index-url http://x"},
            "requirements_file",
            "line 2: option '--index-url' is not allowed",
        ),
        (
            {"python_code": "1", "requirements_file": "six\x00"},
            "requirements_file",
            "requirements file contains a NUL byte",
        ),
        ({"python_code": "1", "timeout_seconds": 0}, "timeout_seconds", None),
        ({"python_code": "1", "timeout_seconds": 86_401}, "timeout_seconds", None),
        ({"python_code": "1", "memory_mb": 8}, "memory_mb", None),
        ({"python_code": "1", "cpu": 0}, "cpu", None),
        ({"python_code": "1", "env": {"1BAD": "x"}}, "env", "'1BAD' is not a valid variable name"),
        ({"python_code": "1", "env": {"A-B": "x"}}, "env", "'A-B' is not a valid variable name"),
        (
            {"python_code": "1", "env": {"PATH": "/x"}},
            "env",
            "'PATH' is reserved for the job itself",
        ),
        (
            {"python_code": "1", "env": {"DEPENDENCIES": "x"}},
            "env",
            "'DEPENDENCIES' is reserved for the job itself",
        ),
        (
            {"python_code": "1", "env": {"PYJOBS_VENV": "x"}},
            "env",
            "'PYJOBS_VENV' is reserved for the job itself",
        ),
        ({"python_code": "1", "env": {"A": "x\x00"}}, "env", "the value of A contains a NUL byte"),
        (
            {"python_code": "1", "env": {f"V{i}": "x" for i in range(101)}},
            "env",
            "101 variables, more than the limit of 100",
        ),
        (
            {"python_code": "1", "namespace": "Not_A_Label"},
            "namespace",
            "'Not_A_Label' is not a DNS-1123 label (a-z, 0-9, '-', at most 63)",
        ),
        ({"python_code": "1", "namespace": "a" * 64}, "namespace", None),
        ({"python_code": "1", "pythonCod": "x"}, "pythonCod", "unknown field"),
    ],
)
def test_invalid_requests_name_the_field(
    request_: dict[str, Any], field: str, message: str | None
) -> None:
    error = refused(request_)
    assert error.field == field
    if message is not None:
        assert error.message == message


def test_errors_never_echo_the_input() -> None:
    secret = "s3cr3t-" + "x" * 10_000
    for request in (
        {"python_code": secret + "\x00"},
        {"python_code": 1, "timeout_seconds": secret},
        {"python_code": "1", "dependencies": [f"numpy; {secret}"]},
    ):
        error = refused(request)
        assert all(len(str(e)) < 200 for e in error.errors)


def test_hostile_json_body_is_refused_cleanly() -> None:
    body = json.loads('{"python_code": "print(1)\\ud800", "dependencies": "numpy; rm -rf /"}')
    error = refused(body)
    # The string form splits on spaces: "numpy;", "rm", "-rf", "/" — each bad piece is named.
    fields = {e.field for e in error.errors}
    assert fields == {"python_code", "dependencies[0]", "dependencies[2]", "dependencies[3]"}


def test_spec_is_immutable() -> None:
    spec = TaskSpec.parse({"python_code": "1"})
    with pytest.raises(ValueError, match="frozen"):
        spec.python_code = "2"  # type: ignore[misc]


def test_requirement_lines_are_parsed_once_validated() -> None:
    spec = TaskSpec.parse({"python_code": "1", "requirements_file": "six  # note\n"})
    assert [str(line) for line in spec.requirement_lines] == ["six"]
