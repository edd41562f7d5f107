"""Parse and normalise the packages a task asks for: PEP 508 strings and requirements files.

Everything here is a gate: what passes is handed to uv as plain requirements, so anything
that could make uv read another file, reach another index, or build from a path or URL is
refused, naming the offending token (never more of the user's text than that).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement

MAX_REQUIREMENTS = 200
MAX_REQUIREMENT_LENGTH = 1000
MAX_REQUIREMENTS_FILE_BYTES = 256 * 1024

# `$` and braces are how uv expands environment variables in requirements and how Argo
# substitutes templates; no real requirement needs them, so they never get that far.
_FORBIDDEN_CHARS = frozenset("${}`\\\x00")
# uv and pip read a bare "name.whl" or "name.tar.gz" as a local archive path.
_ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".egg")
_HASH_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_VERSION_OPERATOR = re.compile(r"^(?:===|==|!=|~=|<=|>=|<|>)")
# pip's comment rule: '#' at the start of a line or after whitespace starts a comment.
_COMMENT = re.compile(r"(^|\s+)#.*$")
_SHOWN_CHARS = 60


class RequirementError(ValueError):
    """A requirement or requirements-file line was refused; the message says why."""


def show(token: str) -> str:
    """Quote a piece of user text for an error message, cut short so nothing large is echoed."""
    cut = token if len(token) <= _SHOWN_CHARS else token[:_SHOWN_CHARS] + "…"
    return repr(cut)


def parse_requirement(text: str) -> str:
    """Validate one PEP 508 requirement and return it in its normalised form."""
    if len(text) > MAX_REQUIREMENT_LENGTH:  # refused at once, and kept out of the cache
        return _parse_requirement(text)
    normalised, problem = _remembered(text)
    if problem is not None:
        raise RequirementError(problem)
    return normalised


# Teams ask for the same packages over and over, and packaging's parser is most of what
# validating a submission costs. The verdict is kept, not the exception: a raised
# exception grows a traceback each time it is raised again.
@functools.lru_cache(maxsize=4096)
def _remembered(text: str) -> tuple[str, str | None]:
    try:
        return _parse_requirement(text), None
    except RequirementError as error:
        return "", str(error)


def _parse_requirement(text: str) -> str:
    token = text.strip()
    if not token:
        raise RequirementError("empty requirement")
    if len(token) > MAX_REQUIREMENT_LENGTH:
        raise RequirementError(f"longer than {MAX_REQUIREMENT_LENGTH} characters")
    if token.startswith("-"):
        raise RequirementError(f"options are not allowed: {show(token.split()[0])}")
    bad = sorted({c for c in token if c in _FORBIDDEN_CHARS or not c.isprintable()})
    if bad:
        raise RequirementError(f"character {bad[0]!r} is not allowed in {show(token)}")
    try:
        requirement = Requirement(token)
    except InvalidRequirement:
        raise RequirementError(f"not a valid PEP 508 requirement: {show(token)}") from None
    if requirement.url:
        raise RequirementError(f"URL and path references are not allowed: {show(token)}")
    if requirement.name.lower().endswith(_ARCHIVE_SUFFIXES):
        raise RequirementError(f"archive file names are not allowed: {show(requirement.name)}")
    return str(requirement)


def split_dependencies(text: str) -> list[str]:
    """Split a dependency string on spaces and commas, keeping `numpy>=1,<2` in one piece.

    A fragment that starts with a version operator continues the previous requirement's
    specifier list. Markers need the list form, where each item is one requirement.
    """
    pieces: list[str] = []
    for fragment in re.split(r"[\s,]+", text.strip()):
        if not fragment:
            continue
        if pieces and _VERSION_OPERATOR.match(fragment):
            pieces[-1] = f"{pieces[-1]},{fragment}"
        else:
            pieces.append(fragment)
    return pieces


@dataclass(frozen=True)
class RequirementLine:
    """One requirement of a requirements file with the hashes pinned for it."""

    requirement: str
    hashes: tuple[str, ...] = ()

    def __str__(self) -> str:
        return " ".join([self.requirement, *(f"--hash={h}" for h in self.hashes)])


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations; each logical line keeps the number it started on."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        line = _COMMENT.sub("", raw)
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        lines.append((start, " ".join(pending)))
        pending = []
    if pending:
        lines.append((start, " ".join(pending)))
    return lines


def _parse_hash(value: str, number: int) -> str:
    algorithm, _, digest = value.partition(":")
    if _HASH_LENGTHS.get(algorithm) != len(digest) or not re.fullmatch(r"[0-9a-f]+", digest):
        raise RequirementError(
            f"line {number}: --hash must be sha256, sha384 or sha512 followed by ':' and "
            f"the hex digest, not {show(value)}"
        )
    return value


def _parse_line(number: int, line: str) -> RequirementLine:
    tokens = line.split()
    first_option = next((i for i, t in enumerate(tokens) if t.startswith("-")), len(tokens))
    requirement_text, options = " ".join(tokens[:first_option]), tokens[first_option:]
    hashes: list[str] = []
    index = 0
    while index < len(options):
        option = options[index]
        if option == "--hash" and index + 1 < len(options):
            hashes.append(_parse_hash(options[index + 1], number))
            index += 2
        elif option.startswith("--hash="):
            hashes.append(_parse_hash(option.removeprefix("--hash="), number))
            index += 1
        else:
            name = option.split("=", 1)[0]
            raise RequirementError(f"line {number}: option {show(name)} is not allowed")
    if not requirement_text:
        raise RequirementError(f"line {number}: --hash without a requirement")
    try:
        requirement = parse_requirement(requirement_text)
    except RequirementError as error:
        raise RequirementError(f"line {number}: {error}") from None
    return RequirementLine(requirement, tuple(hashes))


def parse_requirements_file(text: str) -> tuple[RequirementLine, ...]:
    """Parse requirements.txt text: requirements, comments, blank lines, continuations, --hash."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_REQUIREMENTS_FILE_BYTES:
        raise RequirementError(f"larger than {MAX_REQUIREMENTS_FILE_BYTES // 1024} KiB")
    parsed = tuple(_parse_line(n, line) for n, line in _logical_lines(text) if line.strip())
    if len(parsed) > MAX_REQUIREMENTS:
        raise RequirementError(f"more than {MAX_REQUIREMENTS} requirements")
    return parsed


def render_requirements_file(lines: tuple[RequirementLine, ...]) -> str:
    """The normalised requirements text handed to uv: one requirement per line, no comments."""
    return "".join(f"{line}\n" for line in lines)
