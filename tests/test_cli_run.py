"""`pyjobs run`: the code's output live on stdout, a summary on stderr, its exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyjobs.console import EXIT_DEPENDENCY_INSTALL, EXIT_TIMEOUT
from tests.executors.conftest import require_bwrap

PYJOBS = str(Path(sys.executable).parent / "pyjobs")


@pytest.fixture
def run_env(tmp_path: Path, shared_sandbox_root: Path) -> dict[str, str]:
    require_bwrap()
    return {
        **os.environ,
        "PYJOBS_HOME": str(tmp_path / "home"),
        "PYJOBS_SANDBOX_ROOT": str(shared_sandbox_root),
        "PYJOBS_SANDBOX": "bwrap",
    }


def pyjobs_run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYJOBS, "run", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_numpy_prints_45_then_hits_the_cache(run_env: dict[str, str]) -> None:
    code = "import numpy; print(numpy.arange(10).sum())"
    first = pyjobs_run(run_env, "-c", code, "--with", "numpy")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == "45"
    second = pyjobs_run(run_env, "-c", code, "--with", "numpy")
    assert second.returncode == 0, second.stderr
    assert second.stdout == "45\n"
    summary = second.stderr.strip().splitlines()[-1]
    assert summary.startswith("pyjobs: succeeded · env cache hit · setup ")
    assert "⠋" not in second.stderr  # no spinner when stderr is not a terminal


def test_file_input_and_exit_status(run_env: dict[str, str], tmp_path: Path) -> None:
    program = tmp_path / "job.py"
    program.write_text("import sys\nprint('from file')\nsys.exit(5)\n")
    done = pyjobs_run(run_env, str(program))
    assert done.returncode == 5
    assert done.stdout.splitlines()[-1] == "from file"
    assert "pyjobs: failed (exited with status 5)" in done.stderr


def test_timeout_has_its_own_status(run_env: dict[str, str]) -> None:
    done = pyjobs_run(run_env, "-c", "import time; time.sleep(300)", "--timeout", "1")
    assert done.returncode == EXIT_TIMEOUT
    assert "timed out after 1 s" in done.stderr


def test_dependency_failure_has_its_own_status(run_env: dict[str, str]) -> None:
    done = pyjobs_run(run_env, "-c", "print(1)", "--with", "pyjobs-no-such-package-x9q")
    assert done.returncode == EXIT_DEPENDENCY_INSTALL
    assert "pyjobs-no-such-package-x9q" in done.stdout  # uv's error is in the log
    assert "the environment could not be built" in done.stderr


def test_no_network_still_installs_but_the_code_is_offline(run_env: dict[str, str]) -> None:
    # No packet may leave this machine, so "offline" is shown by what the code can see:
    # only a private loopback and no route, while six was installed with network.
    code = (
        "import six\n"
        "print(sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]))\n"
        "print(len(open('/proc/net/route').readlines()) - 1, 'routes')\n"
    )
    done = pyjobs_run(run_env, "-c", code, "--with", "six", "--no-network")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == ["['lo']", "0 routes"]


def test_invalid_input_exits_2(run_env: dict[str, str]) -> None:
    done = pyjobs_run(run_env, "-c", "print(1)", "--with", "numpy; rm -rf /")
    assert done.returncode == 2
    assert done.stderr == (
        "pyjobs: invalid dependencies[0]: not a valid PEP 508 requirement: 'numpy; rm -rf /'\n"
    )
