"""The programs of the sandbox's process chain, each an argv built from trusted values.

Every step is a real program started with an empty environment; see ``sandbox`` for the
chain as a whole. Nothing here comes from the caller except numbers and the program's own
argv and variables, which only ever reach the last step.
"""

import functools
import logging
import os
import shutil
import subprocess

from pyjobs.errors import SandboxUnavailableError
from pyjobs.executors import bwrap
from pyjobs.executors.sandbox_config import SandboxConfig, SandboxMode

__all__ = [
    "JOIN_CGROUP",
    "SANDBOX_UID",
    "TOOL_PATH",
    "bare_program",
    "bwrap_unavailable_reason",
    "drop_privileges",
    "prlimit",
    "setpriv",
    "tool",
]

log = logging.getLogger(__name__)

SANDBOX_UID = 65534
TOOL_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"
# Paths arrive as positional arguments; no caller-supplied text is ever part of this string.
# sh exports a PWD of its own, which bwrap's pid 1 would keep on show in /proc/1/environ.
JOIN_CGROUP = (
    'unset PWD; while [ "$1" != -- ]; do echo $$ >"$1" || exit 125; shift; done; shift; exec "$@"'
)
_MIB = 1024 * 1024


def tool(name: str, mode: SandboxMode = SandboxMode.BWRAP) -> str:
    """The absolute path of a system program; SandboxUnavailableError if it is missing."""
    path = shutil.which(name, path=TOOL_PATH)
    if path is None:
        raise SandboxUnavailableError(mode, f"{name} is not installed")
    return path


def drop_privileges() -> bool:
    """Whether the chain must switch to the sandbox uid (we are root)."""
    return os.geteuid() == 0


def setpriv(mode: SandboxMode = SandboxMode.BWRAP) -> list[str]:
    """Become the sandbox uid, with no groups, capabilities or way to regain them."""
    uid = str(SANDBOX_UID)
    return [
        tool("setpriv", mode),
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
    ]


@functools.cache
def bwrap_unavailable_reason() -> str | None:
    """Why bwrap cannot run a sandbox here, or None when it can (probed once per process)."""
    path = shutil.which("bwrap", path=TOOL_PATH)
    if path is None:
        return "bwrap (bubblewrap) is not installed"
    try:
        prefix = setpriv() if drop_privileges() else []
        argv = [*prefix, path, *bwrap.probe_options(), "--", "/usr/bin/true"]
        done = subprocess.run(argv, env={}, cwd="/", capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError, SandboxUnavailableError) as exc:
        return f"bwrap probe failed: {exc}"
    if done.returncode != 0:
        return f"bwrap probe failed: {done.stderr.decode(errors='replace').strip()}"
    return None


def prlimit(config: SandboxConfig, mode: SandboxMode, uid: int) -> tuple[list[str], list[str]]:
    """Return the prlimit command and the rlimits it enforces (the caller may add ``--as``)."""
    argv = [
        tool("prlimit", mode),
        f"--nproc={config.max_processes}",
        f"--fsize={config.max_file_size_mb * _MIB}",
        f"--nofile={config.max_open_files}",
    ]
    # RLIMIT_NPROC is never checked for root, so it only counts as enforced for others.
    enforced = ["rlimit:nproc"] if uid != 0 else []
    enforced += ["rlimit:fsize", "rlimit:nofile"]
    if config.cpu_seconds is not None:
        # Soft < hard: SIGXCPU first, so the job can tell why it stops; SIGKILL a second later.
        argv.append(f"--cpu={config.cpu_seconds}:{config.cpu_seconds + 1}")
        enforced.append("rlimit:cpu")
    return argv, enforced


def bare_program(config: SandboxConfig, mode: SandboxMode) -> list[str]:
    """The last step in mode none: the program with exactly its own environment."""
    if not config.network:
        log.warning("sandbox mode none cannot isolate the network; the job keeps it")
    if config.mounts:
        log.warning("sandbox mode none ignores mounts; the job sees host paths")
    env = [f"{name}={value}" for name, value in config.env.items()]
    return [tool("env", mode), "-i", "--", *env, *config.argv]
