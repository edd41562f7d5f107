"""The job script, run for real the way Argo runs it: real uv, real packages, real Python."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyjobs import InvalidTaskError, build_script_source
from pyjobs.manifests import Builder, ManifestOptions, build_manifest, render_yaml
from pyjobs.script import SETUP_FAILED_EXIT_CODE, script_environment
from pyjobs.spec import MAX_CODE_BYTES, TaskSpec
from tests.manifests.cases import TRICKY_CODE
from tests.support.argo_run import WORKFLOW_NAME, ArgoLikeRun, run_like_argo
from tests.support.host import make_world_dir

pytestmark = pytest.mark.network


@pytest.fixture(scope="session")
def uv_bin_dir(uv_binary: Path) -> Iterator[Path]:
    """A PATH entry holding only uv (the venv's own bin also holds a python we don't want)."""
    directory = make_world_dir(Path(tempfile.mkdtemp(prefix="pyjobs-test-uvbin-")))
    (directory / "uv").symlink_to(uv_binary)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def job_root() -> Iterator[Path]:
    """A directory the unprivileged uid can reach (pytest's own tmp dirs are private)."""
    root = make_world_dir(Path(tempfile.mkdtemp(prefix="pyjobs-test-job-")))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def run_task(
    request: dict[str, Any],
    job_root: Path,
    uv_bin_dir: Path,
    shared_uv_cache: Path,
    builder: Builder = Builder.HERA,
    **extra_env: str,
) -> ArgoLikeRun:
    spec = TaskSpec.parse(request)
    rendered = render_yaml(build_manifest(spec, ManifestOptions(), builder=builder))
    return run_like_argo(
        rendered, job_root, [uv_bin_dir], {"UV_CACHE_DIR": str(shared_uv_cache), **extra_env}
    )


@pytest.mark.parametrize("builder", list(Builder))
def test_tricky_code_with_a_real_package_runs_exactly_as_written(
    builder: Builder, job_root: Path, uv_bin_dir: Path, shared_uv_cache: Path
) -> None:
    code = TRICKY_CODE.replace(
        "sys.exit(0)\n",
        "import six\nprint('six', six.__version__)\n"
        "print(repr(os.environ['TRICKY']), os.environ['ARGO_WORKFLOW_NAME'])\n",
    )
    tricky_value = "a 'b' \"c\" $HOME $(id) `id` {{workflow.name}}\nline two ✓"
    result = run_task(
        {"python_code": code, "dependencies": ["six>=1.10"], "env": {"TRICKY": tricky_value}},
        job_root,
        uv_bin_dir,
        shared_uv_cache,
        builder,
    )
    assert result.exit_code == 0, result.output
    expected = subprocess.run(
        ["python3", "-c", TRICKY_CODE.replace("sys.exit(0)\n", "")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert expected in result.output
    assert "{{workflow.name}} {{=1+1}} {{inputs.parameters.x}}" in result.output
    assert "héllo wörld ✓ 日本語 🐍" in result.output
    assert "\nsix 1." in result.output
    assert "uv not found" not in result.output
    assert f"{tricky_value!r} {WORKFLOW_NAME}" in result.output


def test_code_runs_as_python_c_would(
    job_root: Path, uv_bin_dir: Path, shared_uv_cache: Path
) -> None:
    code = (
        "import sys\n"
        "print(sys.argv, __name__, repr(sys.path[0]), '__file__' in globals())\n"
        "print(sorted(k for k in globals() if not k.startswith('__')))\n"
    )
    result = run_task({"python_code": code}, job_root, uv_bin_dir, shared_uv_cache)
    assert result.exit_code == 0, result.output
    direct = subprocess.run(["python3", "-c", code], capture_output=True, text=True, check=True)
    assert result.output.endswith(direct.stdout)


def test_requirements_file_is_installed(
    job_root: Path, uv_bin_dir: Path, shared_uv_cache: Path
) -> None:
    result = run_task(
        {
            "python_code": "import six; print('six from requirements', six.__version__)",
            "requirements_file": "# pinned\nsix>=1.10  # tiny\n",
        },
        job_root,
        uv_bin_dir,
        shared_uv_cache,
    )
    assert result.exit_code == 0, result.output
    assert "six from requirements 1." in result.output


def test_largest_code_runs(job_root: Path, uv_bin_dir: Path, shared_uv_cache: Path) -> None:
    tail = "\nprint('ran', len(open(__import__('sys').argv[0]) if False else 'x'))\n"
    code = "#" * (MAX_CODE_BYTES - len(tail)) + tail
    assert len(code.encode()) == MAX_CODE_BYTES
    result = run_task({"python_code": code}, job_root, uv_bin_dir, shared_uv_cache)
    assert result.exit_code == 0, result.output
    assert "ran 1" in result.output


@pytest.mark.parametrize(
    ("code", "status"), [("raise SystemExit(3)", 3), ("1/0", 1), ("import os; os._exit(42)", 42)]
)
def test_exit_status_of_the_code_is_the_exit_status_of_the_job(
    code: str, status: int, job_root: Path, uv_bin_dir: Path, shared_uv_cache: Path
) -> None:
    result = run_task({"python_code": code}, job_root, uv_bin_dir, shared_uv_cache)
    assert result.exit_code == status, result.output


def test_failed_install_shows_uvs_error_and_a_distinct_status(
    job_root: Path, uv_bin_dir: Path, shared_uv_cache: Path
) -> None:
    result = run_task(
        {"python_code": "print('never')", "dependencies": ["pyjobs-no-such-package-x9q"]},
        job_root,
        uv_bin_dir,
        shared_uv_cache,
    )
    assert result.exit_code == SETUP_FAILED_EXIT_CODE
    assert "pyjobs-no-such-package-x9q" in result.output  # uv's own explanation
    assert "pyjobs: installing the dependencies failed" in result.output
    assert "never" not in result.output


def test_uv_is_installed_with_pip_when_missing(job_root: Path, shared_uv_cache: Path) -> None:
    pip = subprocess.run(["python3", "-m", "pip", "--version"], capture_output=True, check=False)
    if pip.returncode != 0:
        pytest.skip("python3 has no pip here, so the script cannot install uv itself")
    spec = TaskSpec.parse(
        {"python_code": "import six; print('ok', six.__version__)", "dependencies": "six"}
    )
    rendered = render_yaml(build_manifest(spec, ManifestOptions()))
    result = run_like_argo(rendered, job_root, [], {"UV_CACHE_DIR": str(shared_uv_cache)})
    assert result.exit_code == 0, result.output
    assert "pyjobs: uv not found; installing it with pip" in result.output
    assert "ok 1." in result.output


def test_prepared_environment_is_reused_read_only(
    job_root: Path, uv_bin_dir: Path, shared_uv_cache: Path
) -> None:
    """PYJOBS_VENV + PYJOBS_SETUP_ONLY: build once, then run against it with no install."""
    venv = job_root / "tmp" / "ready-venv"
    request = {
        "python_code": "import six; print('prepared', six.__version__)",
        "dependencies": "six",
    }
    setup = run_task(
        request, job_root, uv_bin_dir, shared_uv_cache, PYJOBS_VENV=str(venv), PYJOBS_SETUP_ONLY="1"
    )
    assert setup.exit_code == 0, setup.output
    assert "prepared" not in setup.output
    assert "uv not found" not in setup.output
    assert (venv / ".pyjobs-ready").exists()
    run = run_task(
        request,
        job_root,
        uv_bin_dir,
        shared_uv_cache,
        PYJOBS_VENV=str(venv),
        UV_OFFLINE="1",
        DEPENDENCIES="must-not-be-installed",
    )
    assert run.exit_code == 0, run.output
    assert "prepared 1." in run.output


def test_build_script_source_is_the_original_api() -> None:
    source = build_script_source("print(1)", "numpy pandas", "six\n")
    assert source.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in source
    assert "uv venv" in source
    assert "$DEPENDENCIES" in source
    assert 'python" -c ' in source
    assert "print(1)" not in source  # the code travels encoded
    assert script_environment(TaskSpec.parse({"python_code": "1", "dependencies": "a b"})) == {
        "DEPENDENCIES": "a\nb",
        "PYTHONUNBUFFERED": "1",
    }
    with pytest.raises(InvalidTaskError) as caught:
        build_script_source("print(1)", ["numpy; rm -rf /"])
    assert caught.value.field == "dependencies[0]"
    with pytest.raises(InvalidTaskError, match="python_code: is required"):
        build_script_source()
