"""Run one program in bubblewrap (or bare) under rlimits, a per-run cgroup and seccomp.

The process chain, all real programs started with an empty environment (no
``preexec_fn``: the server is threaded, and user variables must not reach the steps
that still run as root)::

    sh -c JOIN_CGROUP …    write its own pid to the run's cgroup.procs files, then exec
    setpriv --reuid=65534 … drop root (only when running as root)
    prlimit --nproc=… --    rlimits, inherited by everything below
    bwrap --args FD -- ARGV  (mode bwrap)  |  env -i NAME=VALUE… ARGV  (mode none)

Joining the cgroup from inside the first process, before any exec, means nothing the
job starts can be born outside it.
"""

import contextlib
import logging
import math
import os
import select
import signal
import subprocess
import threading
from pathlib import Path
from types import TracebackType
from typing import Self

from pyjobs.errors import SandboxUnavailableError
from pyjobs.executors import bwrap, seccomp
from pyjobs.executors.cgroups import RunCgroup, reap_orphans
from pyjobs.executors.sandbox_chain import (
    JOIN_CGROUP,
    SANDBOX_UID,
    bare_program,
    bwrap_unavailable_reason,
    drop_privileges,
    prlimit,
    setpriv,
    tool,
)
from pyjobs.executors.sandbox_config import Mount, SandboxConfig, SandboxMode, SandboxResult
from pyjobs.executors.usernet import Handshake, UserNet, usernet_unavailable_reason

__all__ = [
    "SANDBOX_UID",
    "Mount",
    "Sandbox",
    "SandboxConfig",
    "SandboxMode",
    "SandboxResult",
    "bwrap_unavailable_reason",
    "reap_orphans",
    "resolve_mode",
    "usernet_unavailable_reason",
]

log = logging.getLogger(__name__)
_MIB = 1024 * 1024


def resolve_mode(mode: SandboxMode, *, network: bool = False) -> SandboxMode:
    """Turn AUTO into BWRAP or NONE; raise SandboxUnavailableError if BWRAP cannot work.

    With ``network``, BWRAP also needs the private network's helpers; without them the
    run fails rather than falls back (to the host's network, or to no sandbox at all).
    """
    if mode is SandboxMode.NONE:
        return mode
    problem = bwrap_unavailable_reason()
    if problem is None:
        problem = usernet_unavailable_reason() if network else None
        if problem is None:
            return SandboxMode.BWRAP
        raise SandboxUnavailableError(
            SandboxMode.BWRAP, f"network-on runs get a private network, but {problem}"
        )
    if mode is SandboxMode.BWRAP:
        raise SandboxUnavailableError(mode, problem)
    return SandboxMode.NONE


def _prepare_workdir(path: Path, uid: int) -> None:
    """Hand the fresh workdir to the sandbox user, refusing a symlink in its place."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchown(fd, uid, uid)
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)


def _check_reachable(config: SandboxConfig, uid: int) -> None:
    for path in [config.workdir, *(m.source for m in config.mounts)]:
        blocker = bwrap.unreachable_ancestor(Path(path), uid, uid)
        if blocker is not None:
            raise PermissionError(
                f"{path}: the sandbox user (uid {uid}) cannot reach it through {blocker}; "
                "keep job directories under paths it may traverse"
            )


class Sandbox:
    """One running sandboxed program; wait(), kill() and close() it."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        mode: SandboxMode,
        cgroup: RunCgroup | None,
        enforced: tuple[str, ...],
        usernet: UserNet | None = None,
    ) -> None:
        self._proc = proc
        self._mode = mode
        self._cgroup = cgroup
        self._enforced = enforced
        self._usernet = usernet
        self._lock = threading.Lock()
        self._result: SandboxResult | None = None
        self.pid = proc.pid

    @property
    def enforced(self) -> tuple[str, ...]:
        """The limits in force, known from the start (the result repeats them)."""
        return self._enforced

    @classmethod
    def start(cls, config: SandboxConfig, mode: SandboxMode, stdout: int) -> "Sandbox":
        """Start ``config.argv`` sandboxed; stdout and stderr go to fd ``stdout``."""
        mode = resolve_mode(mode, network=config.network)
        drop = drop_privileges()
        uid = SANDBOX_UID if drop else os.geteuid()
        if drop:
            _prepare_workdir(config.workdir, uid)
            _check_reachable(config, uid)
        become = setpriv(mode) if drop else []
        chain, join = list(become), []
        enforced = [f"uid:{uid}"] if drop else []
        rlimits, limits = prlimit(config, mode, uid)
        bundle = bwrap.FdBundle()
        net = Handshake() if mode is SandboxMode.BWRAP and config.network else None
        cgroup = RunCgroup.create(
            memory_bytes=None if config.memory_mb is None else config.memory_mb * _MIB,
            max_processes=config.max_processes,
            cpu_cores=config.cpu_cores,
        )
        try:
            if cgroup is not None:
                enforced += cgroup.enforced
                join = [tool("sh", mode), "-c", JOIN_CGROUP, "pyjobs-cgroup-join"]
                join += [*map(str, cgroup.procs_files), "--"]
                chain = [*join, *chain]
            has_memory = cgroup is not None and any("memory" in e for e in cgroup.enforced)
            if config.memory_mb is not None and not has_memory:
                # No memory cgroup here: an address-space cap is the only memory limit left.
                rlimits.append(f"--as={config.memory_mb * _MIB}")
                limits.append("rlimit:as")
            chain += [*rlimits, "--"]
            enforced += limits
            if mode is SandboxMode.BWRAP:
                program, cwd = _bwrap_program(config, uid, bundle, enforced, net), "/"
            else:
                program, cwd = bare_program(config, mode), str(config.workdir)
            proc = subprocess.Popen(
                [*chain, *program],
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stdout,
                env={},
                cwd=cwd,
                pass_fds=[*bundle.fds, *(net.child_fds if net else ())],
                start_new_session=True,
            )
        except BaseException:
            if net is not None:
                net.close()
            if cgroup is not None:
                cgroup.remove()
            raise
        finally:
            bundle.close()
        if net is None:
            return cls(proc, mode, cgroup, tuple(enforced))
        # The helper joins the run's cgroups too: killed with the run, limited with it.
        return cls._with_network(proc, net, cgroup, enforced, join=join, drop=become)

    @classmethod
    def _with_network(
        cls,
        proc: subprocess.Popen[bytes],
        net: Handshake,
        cgroup: RunCgroup | None,
        enforced: list[str],
        *,
        join: list[str],
        drop: list[str],
    ) -> "Sandbox":
        """Give the blocked bwrap child its network; on failure, take the run down."""
        net.close_child_ends()
        try:
            usernet = UserNet.attach(net, join=join, drop=drop)
        except BaseException as error:
            # bwrap reports its child before the child mounts anything: if that failed,
            # bwrap's own message and exit status say why (the program never ran).
            if isinstance(error, Exception) and _exits_by_itself(proc):
                return cls(proc, SandboxMode.BWRAP, cgroup, tuple(enforced))
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            if cgroup is not None:
                cgroup.kill_all()
                cgroup.remove()
            raise
        finally:
            net.close()
        if usernet is not None:
            enforced.append("net:private")
        return cls(proc, SandboxMode.BWRAP, cgroup, tuple(enforced), usernet)

    def wait(self, timeout: float | None = None) -> SandboxResult:
        """Wait for the program; raise subprocess.TimeoutExpired like Popen.wait."""
        if timeout is not None:
            self._wait_for_exit(timeout)
        returncode = self._proc.wait()
        with self._lock:
            if self._result is None:
                if self._usernet is not None:
                    self._usernet.stop()
                # The run is over: whatever it left behind (daemons in mode none) goes too.
                if self._cgroup is not None:
                    self._cgroup.kill_all()
                self._result = self._make_result(returncode)
            return self._result

    def _wait_for_exit(self, timeout: float) -> None:
        """Return the moment the program exits, or raise TimeoutExpired after ``timeout``.

        Popen.wait(timeout) polls with sleeps that double up to 50 ms, so it noticed an
        exit 25 ms late on average (a 70 ms run looked like 113 ms); a pidfd becomes
        readable exactly when the process ends.
        """
        try:
            fd = os.pidfd_open(self._proc.pid)
        except OSError:  # already reaped, or a kernel without pidfds (< 5.3)
            self._proc.wait(timeout)
            return
        try:
            # Asked after opening the pidfd: had the pid been reaped (and reused) before,
            # Popen knows, and the pidfd of a stranger is never waited on.
            if self._proc.poll() is not None:
                return
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            if not poller.poll(math.ceil(max(0.0, timeout) * 1000)):
                raise subprocess.TimeoutExpired(self._proc.args, timeout)
        finally:
            os.close(fd)

    def _make_result(self, returncode: int) -> SandboxResult:
        code: int | None = returncode
        sig: int | None = None
        if returncode < 0:
            code, sig = None, -returncode
        elif self._mode is SandboxMode.BWRAP and 128 < returncode <= 128 + signal.SIGRTMAX:
            # bwrap reports a child killed by signal N as exit status 128 + N.
            code, sig = None, returncode - 128
        oom = self._cgroup is not None and self._cgroup.oom_killed()
        return SandboxResult(exit_code=code, signal=sig, oom_killed=oom, enforced=self._enforced)

    def kill(self) -> None:
        """SIGKILL the whole tree (daemonized grandchildren too); safe to repeat or after exit."""
        with self._lock:
            if self._cgroup is not None and not self._cgroup.kill_all():
                log.warning("sandbox %d: processes survived SIGKILL", self.pid)
            if self._proc.poll() is None:
                # Without a cgroup, the session is the best remaining handle on the tree;
                # under bwrap, killing bwrap tears down its pid namespace as well.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.kill()
            if self._usernet is not None:
                self._usernet.kill()

    def close(self) -> None:
        """Kill anything left, reap the program and delete the run's cgroup."""
        self.kill()
        self._proc.wait()
        with self._lock:
            if self._usernet is not None:
                self._usernet.close()
            if self._cgroup is not None:
                self._cgroup.remove()
                self._cgroup = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _exits_by_itself(proc: subprocess.Popen[bytes], grace: float = 0.5) -> bool:
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        return False
    return True


def _bwrap_program(
    config: SandboxConfig,
    uid: int,
    bundle: bwrap.FdBundle,
    enforced: list[str],
    net: Handshake | None,
) -> list[str]:
    filter_ = seccomp.build_filter() if config.seccomp else None
    handshake = net.bwrap_options() if net is not None else []
    options = bwrap.bwrap_options(
        config, host_uid=uid, bundle=bundle, seccomp=filter_, handshake=handshake
    )
    enforced.append("bwrap")
    if filter_ is not None:
        enforced.append("seccomp")
    if not config.network:
        enforced.append("net:isolated")
    fd = bwrap.args_fd(options, bundle)
    return [tool("bwrap"), "--args", str(fd), "--", *config.argv]
