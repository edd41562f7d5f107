"""The job's bash script: make a venv with uv, install the packages, run the code with `python -c`.

User text never becomes shell or Argo template syntax. The code, the requirements file and
the user's variables are embedded as base64 (an alphabet with no quote, `$`, backtick, brace
or newline trouble) and decoded to files at run time; the dependency list arrives in the
`DEPENDENCIES` environment variable, one validated requirement per line, and reaches uv as
separate arguments. The code runs through `python -c` with a fixed bootstrap that executes
the decoded file in `__main__`, because a 256 KiB program would not fit in one argv string
(Linux caps a single argument at 128 KiB).
"""

from __future__ import annotations

import base64
import re
import textwrap
from collections.abc import Iterable, Mapping

from pyjobs.errors import InvalidTaskError
from pyjobs.spec import TaskSpec

# Exit status of the script when the environment could not be set up (uv missing and not
# installable, venv creation or package installation failed), so a caller can tell this
# apart from the user's own exit codes and report reason `dependency_install`.
SETUP_FAILED_EXIT_CODE = 97

# Runs the decoded program as `python -c` would: in `__main__`, file name "<string>",
# sys.argv == ["-c"], sys.path[0] == "". No name is bound in `__main__` by the bootstrap.
BOOTSTRAP = (
    'exec(compile(__import__("pathlib").Path(__import__("sys").argv.pop(1)).read_bytes(),'
    ' "<string>", "exec"))'
)

_BASE64 = re.compile(r"[A-Za-z0-9+/=\n]*")

_MAIN = textwrap.dedent(
    """\
    #!/usr/bin/env bash
    # pyjobs job script: build a venv with uv, install the task's packages, run its code.
    # The code, requirements and user variables are base64 data at the end of this file.
    set -euo pipefail

    setup_failed() {
      echo "pyjobs: $*" >&2
      exit %(setup_failed)d
    }

    main() {
      local tmp="${TMPDIR:-/tmp}"
      # As a non-root user without a home (Kubernetes' runAsUser), only /tmp is writable.
      if [ -z "${HOME:-}" ] || [ ! -w "$HOME" ]; then export HOME="$tmp"; fi
      export UV_CACHE_DIR="${UV_CACHE_DIR:-$tmp/pyjobs-uv-cache}"
      local job_dir
      job_dir="$(mktemp -d "$tmp/pyjobs-job.XXXXXX")"

      local venv="${PYJOBS_VENV:-$job_dir/venv}"
      if [ ! -e "$venv/.pyjobs-ready" ]; then
        if ! command -v uv >/dev/null 2>&1; then
          echo "pyjobs: uv not found; installing it with pip" >&2
          python3 -m pip install --quiet --disable-pip-version-check --target "$job_dir/uv" uv \\
            >&2 || setup_failed "uv is missing and could not be installed"
          export PATH="$job_dir/uv/bin:$PATH"
        fi
        # Relocatable: entry points find their python relatively, so an environment built
        # in one place and then moved (the local env cache does) keeps working.
        uv venv --quiet --relocatable "$venv" \\
          || setup_failed "could not create the virtual environment"
        local packages=()
        if [ -n "${DEPENDENCIES:-}" ]; then mapfile -t packages <<<"$DEPENDENCIES"; fi
        local install_args=()
        if has_requirements; then
          write_requirements >"$job_dir/requirements.txt"
          install_args+=(-r "$job_dir/requirements.txt")
        fi
        if [ ${#packages[@]} -gt 0 ] || [ ${#install_args[@]} -gt 0 ]; then
          uv pip install --python "$venv/bin/python" --compile-bytecode \\
            "${install_args[@]}" -- "${packages[@]}" \\
            || setup_failed "installing the dependencies failed (uv's error is above)"
        fi
        touch "$venv/.pyjobs-ready"
      fi
      if [ "${PYJOBS_SETUP_ONLY:-}" = 1 ]; then exit 0; fi

      write_code >"$job_dir/main.py"
      write_user_env >"$job_dir/env"
      local assignment
      while IFS= read -r -d '' assignment; do export "$assignment"; done <"$job_dir/env"
      # As if activated: the code's subprocesses find the venv's python and scripts.
      export VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH"
      exec "$venv/bin/python" -c '%(bootstrap)s' "$job_dir/main.py"
    }
    """
)


def _data_function(name: str, payload: bytes) -> str:
    encoded = base64.encodebytes(payload).decode("ascii")
    if not _BASE64.fullmatch(encoded):  # a belt to the braces: base64 cannot break out
        raise AssertionError("base64 produced unexpected characters")
    marker = "PYJOBS_DATA"  # not in the base64 alphabet, so it cannot end the block early
    return f"{name}() {{\n  base64 -d <<'{marker}'\n{encoded}{marker}\n}}\n"


def _user_env_payload(env: Mapping[str, str]) -> bytes:
    # NUL-separated NAME=value pairs: values may hold newlines, never NUL (validated).
    return b"".join(f"{name}={value}".encode() + b"\0" for name, value in env.items())


def script_source(spec: TaskSpec) -> str:
    """The job script for a validated task (the script template's `source`)."""
    requirements = "".join(f"{line}\n" for line in spec.requirement_lines)
    parts = [
        _MAIN % {"setup_failed": SETUP_FAILED_EXIT_CODE, "bootstrap": BOOTSTRAP},
        "\n# Data: base64 of the code, the requirements file and the user's variables.\n",
        f"has_requirements() {{ {'true' if requirements else 'false'}; }}\n",
        _data_function("write_code", spec.python_code.encode("utf-8")),
        _data_function("write_requirements", requirements.encode("utf-8")),
        _data_function("write_user_env", _user_env_payload(spec.env)),
        '\nmain "$@"\n',
    ]
    return "".join(parts)


def dependencies_value(requirements: Iterable[str]) -> str:
    """The `DEPENDENCIES` value: one requirement per line (markers may contain spaces)."""
    return "\n".join(requirements)


def script_environment(spec: TaskSpec) -> dict[str, str]:
    """The variables the script reads besides its own source (container `env`)."""
    return {
        "DEPENDENCIES": dependencies_value(spec.dependencies),
        "PYTHONUNBUFFERED": "1",
    }


def build_script_source(
    python_code: str | None = None,
    dependencies: str | list[str] | None = None,
    requirements_file: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> str:
    """Validate the inputs and return the job's bash script.

    The dependencies are checked here but reach the script through the `DEPENDENCIES`
    environment variable (see `script_environment`), as the original workflows did.
    Raises `InvalidTaskError` naming the field when an input breaks a rule.
    """
    if python_code is None:
        raise InvalidTaskError.single("python_code", "is required")
    spec = TaskSpec.parse(
        {
            "python_code": python_code,
            "dependencies": dependencies,
            "requirements_file": requirements_file,
            "env": dict(env or {}),
        }
    )
    return script_source(spec)
