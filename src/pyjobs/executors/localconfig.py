"""Where the local executor keeps things and which interpreter and uv it builds with."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from uv import find_uv_bin

from pyjobs.config import Settings
from pyjobs.executors.runlog import DEFAULT_OUTPUT_LIMIT
from pyjobs.executors.sandbox import SandboxMode

# Debian's interpreter lives under /usr, which every sandbox mounts; others are bound in.
_SYSTEM_PYTHON = Path("/usr/bin/python3")
_GIB = 1024**3


@dataclass(frozen=True)
class Interpreter:
    """The Python that environments are built on: its path, version and prefix."""

    path: Path
    version: str
    base_prefix: Path

    @classmethod
    def inspect(cls, path: Path) -> Interpreter:
        """Ask the interpreter itself for its version and prefix."""
        probe = (
            "import json, platform, sys; "
            "print(json.dumps([platform.python_version(), sys.base_prefix]))"
        )
        output = subprocess.run(
            [str(path), "-c", probe], capture_output=True, text=True, check=True, timeout=30
        ).stdout
        version, prefix = json.loads(output)
        return cls(path, version, Path(prefix))


def default_python() -> Path:
    """The interpreter for environments: Debian's python3 if present, else our own base."""
    if _SYSTEM_PYTHON.exists():
        return _SYSTEM_PYTHON
    return Path(getattr(sys, "_base_executable", sys.executable)).resolve()


def sandbox_root_for(home: Path, configured: Path | None) -> Path:
    """Where sandbox-visible files live (env cache, run workdirs).

    `PYJOBS_HOME` (database, logs, tokens) is private to the server's user. When that user
    is root, runs drop to an unprivileged uid, and bwrap opens bind sources as that uid: so
    their files live apart, by default in a per-home directory of /var/tmp (which survives
    reboots, keeping the env cache). Otherwise they live in `PYJOBS_HOME/sandbox`.
    """
    if configured is not None:
        return configured
    if os.geteuid() != 0:
        return home / "sandbox"
    tag = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:12]
    return Path("/var/tmp") / f"pyjobs-sandbox-{tag}"  # noqa: S108 - checked by prepare_…


def prepare_sandbox_root(root: Path) -> None:
    """Create the sandbox root (0711: traversable, not listable), refusing one we don't own.

    It may sit in world-writable /var/tmp, where anyone could have planted a symlink or a
    directory of their own under the same name first.
    """
    root.mkdir(parents=True, exist_ok=True, mode=0o711)
    info = root.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise PermissionError(f"{root} is not a directory owned by this user; refusing it")
    os.chmod(root, 0o711)  # noqa: S103 - the sandbox uid must traverse, not list


@dataclass(frozen=True)
class LocalRunConfig:
    """Everything the local executor needs to know, resolved once."""

    home: Path
    sandbox_root: Path
    sandbox: SandboxMode = SandboxMode.AUTO
    max_concurrent: int = 1
    env_cache_max_bytes: int = 20 * _GIB
    output_limit: int = DEFAULT_OUTPUT_LIMIT
    python_path: Path = _SYSTEM_PYTHON
    uv_path: Path = Path("uv")
    build_memory_mb: int = 4096
    max_processes: int = 256
    max_file_size_mb: int = 1024
    max_open_files: int = 1024
    tmp_size_mb: int = 1024
    # None: a uv download cache of the sandbox root's own. Several roots may share one
    # (benchmarks and tests that start from an empty env cache but not an empty download
    # cache); it must be reachable by the sandbox uid, like the root itself.
    uv_cache_override: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalRunConfig:
        """The configuration `PYJOBS_*` variables describe."""
        home = settings.home_dir
        return cls(
            home=home,
            sandbox_root=sandbox_root_for(home, settings.sandbox_root),
            sandbox=SandboxMode(settings.sandbox.value),
            max_concurrent=settings.max_concurrent,
            env_cache_max_bytes=int(settings.env_cache_max_gb * _GIB),
            output_limit=settings.output_limit_mb * 1024 * 1024,
            python_path=settings.python or default_python(),
            uv_path=Path(find_uv_bin()),
        )

    @cached_property
    def interpreter(self) -> Interpreter:
        """The build interpreter, inspected once."""
        return Interpreter.inspect(self.python_path)

    @property
    def platform(self) -> str:
        """Part of every environment's key: envs are not portable across platforms."""
        return sysconfig.get_platform()

    @property
    def jobs_dir(self) -> Path:
        """Working directories and scripts of runs (sandbox-visible)."""
        return self.sandbox_root / "jobs"

    @property
    def envs_dir(self) -> Path:
        """The environment cache (sandbox-visible, mounted read-only into runs)."""
        return self.sandbox_root / "envs"

    @property
    def uv_cache_dir(self) -> Path:
        """The download cache of uv, shared by every environment build."""
        if self.uv_cache_override is not None:
            return self.uv_cache_override
        return self.sandbox_root / "uv-cache"
