"""PEP 508 strings and requirements files: what passes, normalised, and what is refused."""

from __future__ import annotations

import pytest

from pyjobs.requirements import (
    MAX_REQUIREMENTS,
    RequirementError,
    RequirementLine,
    parse_requirement,
    parse_requirements_file,
    render_requirements_file,
    split_dependencies,
)

SHA = "a" * 64


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("numpy", "numpy"),
        ("  numpy  ", "numpy"),
        ("pandas[excel,performance]>=2.0,<3", "pandas[excel,performance]<3,>=2.0"),
        ("requests ~= 2.31", "requests~=2.31"),
        ('numpy; python_version >= "3.9"', 'numpy; python_version >= "3.9"'),
        ("Django===4.2.1", "Django===4.2.1"),
        ("zope.interface", "zope.interface"),
    ],
)
def test_valid_requirements_are_normalised(given: str, normalised: str) -> None:
    assert parse_requirement(given) == normalised


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("numpy; rm -rf /", "not a valid PEP 508 requirement"),
        ("-e git+https://example.invalid/x.git", "options are not allowed: '-e'"),
        ("--index-url=http://x", "options are not allowed: '--index-url=http://x'"),
        ("foo @ https://example.invalid/foo.whl", "URL and path references"),
        ("foo @ file:///etc/passwd", "URL and path references"),
        ("./local/package", "not a valid PEP 508"),
        ("/abs/path", "not a valid PEP 508"),
        ("numpy-1.0-py3-none-any.whl", "archive file names"),
        ("pkg.tar.gz", "archive file names"),
        ("numpy==${VERSION}", "character '$'"),
        ("numpy{{workflow.name}}", "character '{'"),
        ("numpy`id`", "character '`'"),
        ("numpy\nsix", "character '\\n'"),
        ("", "empty requirement"),
        ("x" * 1001, "longer than 1000"),
    ],
)
def test_bad_requirements_are_refused(given: str, reason: str) -> None:
    with pytest.raises(RequirementError, match=None) as caught:
        parse_requirement(given)
    assert reason in str(caught.value)


def test_a_verdict_asked_again_is_the_same_and_each_refusal_a_new_error() -> None:
    # Verdicts are remembered: a second asking answers alike, and a refusal raised again
    # is a new exception (a reused one would carry every earlier traceback along).
    assert parse_requirement("requests ~= 2.31") == parse_requirement("requests ~= 2.31")
    errors = []
    for _ in range(2):
        with pytest.raises(RequirementError, match="not a valid PEP 508") as caught:
            parse_requirement("numpy; rm -rf /")
        errors.append(caught.value)
    assert errors[0] is not errors[1]


def test_errors_echo_only_a_short_token() -> None:
    with pytest.raises(RequirementError) as caught:
        parse_requirement("numpy; " + "x" * 5000)
    assert len(str(caught.value)) < 120


@pytest.mark.parametrize(
    ("given", "pieces"),
    [
        ("numpy pandas", ["numpy", "pandas"]),
        ("numpy,pandas", ["numpy", "pandas"]),
        (" numpy ,  pandas\nscipy ", ["numpy", "pandas", "scipy"]),
        ("numpy>=1.24,<2 pandas", ["numpy>=1.24,<2", "pandas"]),
        ("numpy>=1.24, <2, !=1.25.0", ["numpy>=1.24,<2,!=1.25.0"]),
        ("", []),
    ],
)
def test_dependency_strings_split_on_spaces_and_commas(given: str, pieces: list[str]) -> None:
    assert split_dependencies(given) == pieces


def test_requirements_file_with_comments_continuations_and_hashes() -> None:
    text = (
        "# pinned for the report\n"
        "\n"
        "pandas>=2.0.0  # dataframes\n"
        f"numpy==1.26.4 \\\n    --hash=sha256:{SHA} \\\n    --hash sha256:{'b' * 64}\n"
        'tomli; python_version < "3.11"\n'
    )
    lines = parse_requirements_file(text)
    assert lines == (
        RequirementLine("pandas>=2.0.0"),
        RequirementLine("numpy==1.26.4", (f"sha256:{SHA}", f"sha256:{'b' * 64}")),
        RequirementLine('tomli; python_version < "3.11"'),
    )
    assert render_requirements_file(lines) == (
        "pandas>=2.0.0\n"
        f"numpy==1.26.4 --hash=sha256:{SHA} --hash=sha256:{'b' * 64}\n"
        'tomli; python_version < "3.11"\n'
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("numpy\n--index-url http://x\n", "line 2: option '--index-url' is not allowed"),
        ("numpy\n\n-r other.txt\n", "line 3: option '-r' is not allowed"),
        ("-c constraints.txt\n", "line 1: option '-c' is not allowed"),
        ("-e .\n", "line 1: option '-e' is not allowed"),
        ("-i http://x\n", "line 1: option '-i' is not allowed"),
        ("numpy --extra-index-url=http://x\n", "line 1: option '--extra-index-url'"),
        ("-f ./wheels\n", "line 1: option '-f' is not allowed"),
        ("--trusted-host x\n", "line 1: option '--trusted-host' is not allowed"),
        ("numpy --global-option=x\n", "line 1: option '--global-option'"),
        ("numpy --hash=md5:abc\n", "line 1: --hash must be sha256"),
        (f"--hash=sha256:{SHA}\n", "line 1: --hash without a requirement"),
        ("six\nnumpy; rm -rf /\n", "line 2: option '-rf' is not allowed"),
        ("six\nnumpy; rm\n", "line 2: not a valid PEP 508"),
        ("six\n\\\nfoo @ https://x/y.whl\n", "line 2: URL and path references"),
    ],
)
def test_requirements_file_options_are_refused_naming_the_line(text: str, reason: str) -> None:
    with pytest.raises(RequirementError) as caught:
        parse_requirements_file(text)
    assert reason in str(caught.value)


def test_requirements_file_limits() -> None:
    with pytest.raises(RequirementError, match="more than 200 requirements"):
        parse_requirements_file("".join(f"pkg{i}\n" for i in range(MAX_REQUIREMENTS + 1)))
    with pytest.raises(RequirementError, match="larger than 256 KiB"):
        parse_requirements_file("# " + "x" * 300_000)
