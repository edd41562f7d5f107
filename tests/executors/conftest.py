"""Fixtures for running real programs in the real sandbox."""

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from uv import find_uv_bin

from pyjobs.executors.local import LocalExecutor
from pyjobs.executors.localconfig import LocalRunConfig, default_python
from pyjobs.executors.sandbox import (
    Sandbox,
    SandboxConfig,
    SandboxMode,
    bwrap_unavailable_reason,
    usernet_unavailable_reason,
)
from tests.executors.helpers import PYTHON, Run, RunPython
from tests.support.host import require


def require_bwrap() -> None:
    """Skip without a working bwrap, except on CI (CI=true) where that is a failure.

    Runs have network by default, which bwrap gives through slirp4netns: both are needed.
    """
    reason = bwrap_unavailable_reason()
    require(reason is None, f"bubblewrap unavailable: {reason}")
    reason = usernet_unavailable_reason()
    require(reason is None, f"private network for network-on runs unavailable: {reason}")


@pytest.fixture
def needs_bwrap() -> None:
    """Mark a test as needing bubblewrap (skip locally, fail on CI)."""
    require_bwrap()


@pytest.fixture(params=[SandboxMode.BWRAP, SandboxMode.NONE], ids=str)
def mode(request: pytest.FixtureRequest) -> SandboxMode:
    """Each sandbox mode in turn (bwrap needing bubblewrap, as ``needs_bwrap`` does)."""
    param: SandboxMode = request.param
    if param is SandboxMode.BWRAP:
        require_bwrap()
    return param


@pytest.fixture
def host_dir() -> Iterator[Path]:
    """A host directory the sandbox user can traverse (unlike pytest's tmp_path under /root)."""
    with tempfile.TemporaryDirectory(prefix="pyjobs-test-") as name:
        path = Path(name)
        path.chmod(0o755)
        yield path


@pytest.fixture
def workdir(host_dir: Path) -> Path:
    """A fresh, empty workdir, as the executor would hand to the sandbox."""
    path = host_dir / "work"
    path.mkdir()
    return path


@pytest.fixture
def run_python(workdir: Path, host_dir: Path) -> RunPython:
    """Run ``/usr/bin/python3 -c CODE`` sandboxed and return its result and output."""

    def run(
        code: str,
        *,
        mode: SandboxMode = SandboxMode.BWRAP,
        timeout: float = 30,
        env: dict[str, str] | None = None,
        **options: object,
    ) -> Run:
        config = SandboxConfig(
            argv=[PYTHON, "-c", code],
            env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"} if env is None else env,
            workdir=workdir,
            **options,  # type: ignore[arg-type]
        )
        log = host_dir / f"output-{uuid.uuid4().hex}.log"
        with log.open("wb") as out, Sandbox.start(config, mode, out.fileno()) as sandbox:
            result = sandbox.wait(timeout=timeout)
        return Run(result, log.read_text(errors="replace"))

    return run


@pytest.fixture
def local_config(tmp_path: Path, shared_sandbox_root: Path) -> LocalRunConfig:
    """A local-executor configuration with a private home and the session's caches."""
    require_bwrap()
    return LocalRunConfig(
        home=tmp_path / "home",
        sandbox_root=shared_sandbox_root,
        sandbox=SandboxMode.BWRAP,
        max_concurrent=2,
        python_path=default_python(),
        uv_path=Path(find_uv_bin()),
    )


@pytest.fixture
def executor(local_config: LocalRunConfig) -> Iterator[LocalExecutor]:
    """A running local executor, closed (active runs cancelled) after the test."""
    with closing(LocalExecutor(local_config)) as local:
        yield local
