"""Where benchmarks put things: one temporary tree the sandbox uid can traverse."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from uv import find_uv_bin

from pyjobs.config import Settings
from pyjobs.executors.base import RunRequest
from pyjobs.executors.bwrap import unreachable_ancestor
from pyjobs.executors.fstree import remove_tree
from pyjobs.executors.localconfig import LocalRunConfig, default_python
from pyjobs.executors.sandbox import (
    SANDBOX_UID,
    SandboxMode,
    bwrap_unavailable_reason,
    resolve_mode,
)
from pyjobs.manifests import ManifestOptions, build_manifest
from pyjobs.spec import TaskSpec

# The host PATH of baseline programs: the same directories the sandbox shows.
HOST_PATH = "/usr/local/bin:/usr/bin:/bin"


def request_for(code: str, dependencies: list[str]) -> RunRequest:
    """A run of `code` with `dependencies`, its workflow built the way the CLI builds it."""
    spec = TaskSpec.parse({"python_code": code, "dependencies": dependencies})
    manifest = build_manifest(spec, ManifestOptions())
    return RunRequest(uuid.uuid4().hex, spec, manifest)


def fresh_id(request: RunRequest) -> RunRequest:
    """The same run under a new id (an executor refuses an id it has seen)."""
    return RunRequest(uuid.uuid4().hex, request.spec, request.manifest)


def give_to_sandbox(root: Path) -> None:
    """Hand a tree back to the sandbox uid after root wrote into it (a no-op as non-root).

    Host-side baselines run as root and may add directories to the shared uv cache that
    the sandboxed builds, as uid 65534, must still be able to write into.
    """
    if os.geteuid() != 0:
        return
    os.lchown(root, SANDBOX_UID, SANDBOX_UID)
    for directory, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = os.path.join(directory, name)
            if os.lstat(path).st_uid != SANDBOX_UID:
                os.lchown(path, SANDBOX_UID, SANDBOX_UID)


@dataclass(frozen=True)
class SandboxChoice:
    """The sandbox mode runs use, and why when it is not bubblewrap."""

    mode: SandboxMode
    note: str

    @classmethod
    def resolve(cls) -> SandboxChoice:
        """`PYJOBS_SANDBOX` (default auto) made concrete; bwrap when it is available."""
        mode = resolve_mode(SandboxMode(Settings().sandbox.value))
        if mode is SandboxMode.BWRAP:
            return cls(mode, "bubblewrap sandbox (mode bwrap), as runs use it")
        reason = bwrap_unavailable_reason() or "PYJOBS_SANDBOX=none"
        return cls(mode, f"NO SANDBOX (mode none: {reason}); numbers understate a real run")


class Workspace:
    """A temporary directory for one benchmark session, removed on exit.

    It is traversable by the sandbox uid (bwrap opens bind sources as that uid), unlike
    pytest's tmp dirs under /root or a 0700 `mkdtemp`, and holds one uv download cache
    that every sandbox root of the session shares.
    """

    def __init__(self, parent: Path | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pyjobs-bench-", dir=parent))
        self.root.chmod(0o711)
        blocker = unreachable_ancestor(self.root, SANDBOX_UID, SANDBOX_UID)
        if blocker is not None:
            shutil.rmtree(self.root)
            raise PermissionError(
                f"the sandbox uid cannot traverse {blocker}; set TMPDIR to a directory it can"
            )
        self.uv_cache = self.directory("uv-cache")
        give_to_sandbox(self.uv_cache)
        self.sandbox = SandboxChoice.resolve()
        self.python = default_python()
        self.uv = Path(find_uv_bin())

    def directory(self, name: str) -> Path:
        """A new directory `name` under the workspace (unique: a suffix is added if taken)."""
        path = self.root / name
        suffix = 1
        while path.exists():
            suffix += 1
            path = self.root / f"{name}-{suffix}"
        path.mkdir(mode=0o755)
        return path

    def local_config(self, name: str, **overrides: Any) -> LocalRunConfig:
        """An executor configuration with its own home and sandbox root, sharing the uv cache."""
        base = self.directory(name)
        return LocalRunConfig(
            home=base / "home",
            sandbox_root=base / "sandbox",
            sandbox=self.sandbox.mode,
            max_concurrent=1,
            python_path=self.python,
            uv_path=self.uv,
            uv_cache_override=self.uv_cache,
            **overrides,
        )

    def pyjobs_command(self) -> Path:
        """The `pyjobs` console script installed next to this interpreter."""
        found = shutil.which("pyjobs", path=str(Path(sys.executable).parent))
        if found is None:
            raise FileNotFoundError("the pyjobs console script is not installed; make install")
        return Path(found)

    def close(self) -> None:
        """Delete everything the benchmarks made."""
        remove_tree(self.root)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
