"""What a sandboxed run is given (SandboxConfig) and what it reports (SandboxResult)."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

# The kernel refuses execve() when one argv or environment string exceeds 32 pages.
MAX_ARG_STRLEN = 32 * 4096


class SandboxMode(StrEnum):
    """How a run is isolated: bubblewrap, no isolation, or bubblewrap when it works here."""

    AUTO = "auto"
    BWRAP = "bwrap"
    NONE = "none"


@dataclass(frozen=True)
class Mount:
    """A host path made visible inside the sandbox."""

    source: Path
    target: str
    writable: bool = False


def _check_text(what: str, value: str) -> None:
    if "\0" in value:
        raise ValueError(f"{what} contains a NUL byte")
    if len(value.encode()) >= MAX_ARG_STRLEN:
        raise ValueError(f"{what} is longer than the kernel's {MAX_ARG_STRLEN}-byte limit")


@dataclass(frozen=True)
class SandboxConfig:
    """One program to run in the sandbox, with its complete environment and limits."""

    argv: Sequence[str]
    env: Mapping[str, str]
    workdir: Path
    mounts: Sequence[Mount] = ()
    network: bool = True
    memory_mb: int | None = None
    max_processes: int = 256
    max_file_size_mb: int = 1024
    max_open_files: int = 1024
    tmp_size_mb: int = 512
    cpu_seconds: int | None = None
    # CPU bandwidth in cores (0.5: half of one core's time), enforced by a cpu cgroup only.
    cpu_cores: float | None = None
    # The uid the program sees under bwrap (None: the sandbox uid itself). Whatever it is,
    # the host sees the sandbox uid: 0 inside is still an unprivileged user outside.
    inner_uid: int | None = None
    seccomp: bool = True

    def __post_init__(self) -> None:
        if not self.argv:
            raise ValueError("argv is empty")
        for arg in self.argv:
            _check_text("an argument", arg)
        # `env -i NAME=VALUE… PROGRAM` (mode none) would read such a program as a variable.
        if "=" in self.argv[0]:
            raise ValueError("the program name must not contain '='")
        for name, value in self.env.items():
            if not name or "=" in name:
                raise ValueError(f"invalid environment variable name {name!r}")
            _check_text(f"environment variable {name}", f"{name}={value}")
        for mount in self.mounts:
            if not mount.target.startswith("/") or mount.target in ("/", "/work"):
                raise ValueError(f"invalid mount target {mount.target!r}")
        limits = {
            "memory_mb": self.memory_mb,
            "max_processes": self.max_processes,
            "max_file_size_mb": self.max_file_size_mb,
            "max_open_files": self.max_open_files,
            "tmp_size_mb": self.tmp_size_mb,
            "cpu_seconds": self.cpu_seconds,
            "cpu_cores": self.cpu_cores,
        }
        for name, limit in limits.items():
            # `not limit > 0` also refuses NaN, and infinity is no bandwidth the kernel takes.
            if limit is not None and (not limit > 0 or not math.isfinite(limit)):
                raise ValueError(f"{name} must be positive, got {limit}")


@dataclass(frozen=True)
class SandboxResult:
    """How a sandboxed run ended, and which limits were really in force."""

    exit_code: int | None
    signal: int | None
    oom_killed: bool
    enforced: tuple[str, ...]


def unenforced_limits(config: SandboxConfig, enforced: Sequence[str]) -> list[str]:
    """Describe each limit ``config`` asks for that nothing in ``enforced`` applies."""
    missing = []
    cgroups = {e.split(":", 1)[1] for e in enforced if e.startswith("cgroup-")}
    # "rlimit:cpu" caps CPU seconds (cpu_seconds), not bandwidth: only a cpu cgroup counts.
    if config.cpu_cores is not None and "cpu" not in cgroups:
        missing.append(
            f"the CPU limit of {config.cpu_cores:g} cores could not be enforced on this "
            "machine (no usable cpu cgroup): the code may use every core"
        )
    if config.memory_mb is not None and "memory" not in cgroups and "rlimit:as" not in enforced:
        missing.append(
            f"the memory limit of {config.memory_mb} MiB could not be enforced on this "
            "machine (neither a memory cgroup nor an address-space rlimit applied)"
        )
    return missing
