"""A private network namespace with user-mode NAT (slirp4netns) for network-on runs.

bwrap always unshares the network; for a run with network it also gets ``--info-fd``
(bwrap writes its child's pid there) and ``--block-fd`` (the child waits there before
it execs the program). In that pause, two helpers enter the new namespace:

- ``slirp4netns`` creates ``tap0`` in it and NATs its traffic through ordinary sockets
  on the host, refusing the host's loopback (``--disable-host-loopback``);
- ``ip -batch`` adds unreachable routes for the host's own addresses and 169.254.0.0/16,
  and lets only DNS (port 53) reach slirp's resolver address, which forwards to the
  host's resolver on any port (a loopback one included).

Both run as the sandbox uid with an empty environment. They join the namespace through
the user namespace that owns it, which that uid created, so no privilege is needed; the
namespaces are held open by fd, so a recycled pid cannot redirect them.
"""

import contextlib
import fcntl
import functools
import json
import os
import select
import shutil
import stat
import subprocess
import time
from pathlib import Path

from pyjobs.errors import SandboxUnavailableError
from pyjobs.executors.netpolicy import host_addresses, route_commands
from pyjobs.executors.sandbox_chain import TOOL_PATH, tool

__all__ = ["Handshake", "UserNet", "usernet_unavailable_reason"]

# The largest MTU slirp4netns takes: fewer, bigger packets through the user-mode stack.
MTU = 65520
TUN = Path("/dev/net/tun")
_NS_GET_USERNS = 0xB701  # ioctl on a namespace fd: the user namespace that owns it
_START_TIMEOUT = 30.0
# The host's /dev/net/tun may be root-only (no udev to make it 0666). A private mount
# namespace gets a node of its own that the unprivileged helper may open; nothing else
# sees it. Major and minor arrive as arguments, read from the host's node.
# sh exports a PWD of its own, which would reach the helper's environment.
_TUN_NODE = (
    "unset PWD; mount -t tmpfs -o mode=0755,size=4k,nosuid,noexec pyjobs-tun /dev/net"
    ' && mknod -m 0666 /dev/net/tun c "$1" "$2" && shift 2 && exec "$@"'
)


def _tun_needs_private_node() -> bool:
    """Whether the sandbox uid cannot open the host's tun node itself (root only)."""
    return os.geteuid() == 0 and TUN.stat().st_mode & 0o006 != 0o006


@functools.cache
def usernet_unavailable_reason() -> str | None:
    """Why network-on runs cannot get a private network here, or None when they can."""
    try:
        info = TUN.stat()
    except OSError:
        return f"{TUN} is missing (the kernel's tun driver is needed)"
    if not stat.S_ISCHR(info.st_mode):
        return f"{TUN} is not a character device"
    if os.geteuid() != 0 and not os.access(TUN, os.R_OK | os.W_OK):
        return f"{TUN} is not usable by uid {os.geteuid()}"
    tools = {"slirp4netns": "slirp4netns", "nsenter": "util-linux", "ip": "iproute2"}
    if _tun_needs_private_node():
        tools |= {"unshare": "util-linux", "mount": "mount", "mknod": "coreutils"}
    for name, package in tools.items():
        if shutil.which(name, path=TOOL_PATH) is None:
            return f"{name} is not installed (Debian package {package})"
    return None


class Handshake:
    """The pipes bwrap reports its child on (``--info-fd``) and waits on (``--block-fd``)."""

    def __init__(self) -> None:
        self.info_read, self._info_write = os.pipe()
        self._block_read, self.block_write = os.pipe()
        # Each fd is closed once: a second close could hit a number reused by another thread.
        self._open = {self.info_read, self._info_write, self._block_read, self.block_write}

    @property
    def child_fds(self) -> list[int]:
        """The ends bwrap gets."""
        return [self._info_write, self._block_read]

    def bwrap_options(self) -> list[str]:
        """The bwrap options that use them."""
        return ["--info-fd", str(self._info_write), "--block-fd", str(self._block_read)]

    def close_child_ends(self) -> None:
        """Close the parent's copies of bwrap's ends, so EOF means bwrap is gone."""
        self._close(*self.child_fds)

    def close(self) -> None:
        """Close everything left; an unreleased child then reads EOF (and dies with us)."""
        self._close(self.info_read, self._info_write, self._block_read, self.block_write)

    def _close(self, *fds: int) -> None:
        for fd in fds:
            if fd in self._open:
                self._open.discard(fd)
                os.close(fd)


def _read_to_eof(fd: int, deadline: float) -> bytes:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        if not poller.poll(remaining * 1000):
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            return data
        data += chunk


def _wait_for_uid_map(pid: int, deadline: float) -> None:
    """Wait until bwrap's child has mapped its user namespaces (it does so after --info-fd).

    ``ip`` is exec'd after joining, and exec keeps capabilities only for uid 0 of the
    namespace: the helper is that uid (the map is ``0 → sandbox uid``) once it exists.
    """
    uid_map = Path(f"/proc/{pid}/uid_map")
    while not uid_map.read_text().strip():
        if time.monotonic() > deadline:
            raise _failed("bwrap's child never mapped its user namespace")
        time.sleep(0.001)


def _failed(what: str) -> SandboxUnavailableError:
    return SandboxUnavailableError("bwrap", f"the run's private network failed: {what}")


class UserNet:
    """The slirp4netns process serving one run's network namespace."""

    def __init__(self, proc: subprocess.Popen[bytes], exit_fd: int) -> None:
        self._proc = proc
        self._exit_fd: int | None = exit_fd

    @classmethod
    def attach(cls, handshake: Handshake, *, join: list[str], drop: list[str]) -> "UserNet | None":
        """Network the namespace of bwrap's child, then let the child go on.

        ``join`` and ``drop`` prefix the helpers' command lines (join the run's cgroups;
        become the sandbox uid). Returns None if bwrap died before making a namespace.
        """
        deadline = time.monotonic() + _START_TIMEOUT
        try:
            info = _read_to_eof(handshake.info_read, deadline)
        except TimeoutError:
            raise _failed("bwrap did not report its child") from None
        if not info:
            return None  # bwrap failed early: its own message and exit status tell why
        report = json.loads(info)
        net = os.open(f"/proc/{report['child-pid']}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            # The child waits on the block fd, so its pid cannot have been reused; the
            # check makes sure the fd is the namespace bwrap made all the same.
            if os.fstat(net).st_ino != report["net-namespace"]:
                raise _failed("bwrap's child is gone")
            user = fcntl.ioctl(net, _NS_GET_USERNS)
            try:
                usernet, ready, errors = cls._spawn(net, user, join, drop)
                # The routes go in while slirp4netns starts: neither needs the other.
                try:
                    _wait_for_uid_map(report["child-pid"], deadline)
                    cls._route(net, user, drop, deadline)
                    usernet._await_ready(ready, errors, deadline)
                except BaseException:
                    usernet.close()
                    raise
                finally:
                    os.close(ready)
                    os.close(errors)
            finally:
                os.close(user)
        finally:
            os.close(net)
        # A child killed meanwhile has no reader left; the run's status will say so.
        with contextlib.suppress(BrokenPipeError):
            os.write(handshake.block_write, b"1")
        return usernet

    @classmethod
    def _spawn(
        cls, net: int, user: int, join: list[str], drop: list[str]
    ) -> "tuple[UserNet, int, int]":
        """Start slirp4netns; return it, its ready fd and its error output's fd."""
        ready_read, ready_write = os.pipe()
        exit_read, exit_write = os.pipe()
        errors = os.memfd_create("slirp4netns-errors", os.MFD_CLOEXEC)
        prefix = [*join]
        if _tun_needs_private_node():
            device = TUN.stat().st_rdev
            prefix += [tool("unshare"), "--mount", "--propagation", "private", "--"]
            prefix += [tool("sh"), "-c", _TUN_NODE, "pyjobs-tun"]
            prefix += [str(os.major(device)), str(os.minor(device))]
        argv = [
            *prefix,
            *drop,
            tool("slirp4netns"),
            "--configure",
            f"--mtu={MTU}",
            "--disable-host-loopback",
            "--enable-seccomp",
            f"--ready-fd={ready_write}",
            f"--exit-fd={exit_read}",
            "--netns-type=path",
            f"--userns-path=/proc/self/fd/{user}",
            f"/proc/self/fd/{net}",
            "tap0",
        ]
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                env={},
                cwd="/",
                pass_fds=[ready_write, exit_read, net, user],
                start_new_session=True,
            )
        except BaseException:
            for fd in (exit_write, errors, ready_read):
                os.close(fd)
            raise
        finally:
            for fd in (ready_write, exit_read):
                os.close(fd)
        return cls(proc, exit_write), ready_read, errors

    @staticmethod
    def _await_ready(ready: int, errors: int, deadline: float) -> None:
        """Wait for slirp4netns' "1" (tap0 is up); raise with its own words if it failed."""
        try:
            said = _read_to_eof(ready, deadline)
        except TimeoutError:
            said = b""
        if said != b"1":
            message = os.pread(errors, 4096, 0).decode(errors="replace").strip()
            raise _failed(f"slirp4netns: {message or 'no output'}")

    @staticmethod
    def _route(net: int, user: int, drop: list[str], deadline: float) -> None:
        fib_trie = Path("/proc/net/fib_trie").read_text()
        batch = os.memfd_create("routes", os.MFD_CLOEXEC)
        try:
            os.write(batch, route_commands(host_addresses(fib_trie)))
            argv = [
                *drop,
                tool("nsenter"),
                f"--user=/proc/self/fd/{user}",
                f"--net=/proc/self/fd/{net}",
                # Keep the sandbox uid: uid 0 is not mapped in the sandbox's namespace.
                "--preserve-credentials",
                "--",
                tool("ip"),
                "-batch",
                f"/proc/self/fd/{batch}",
            ]
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                env={},
                cwd="/",
                pass_fds=[net, user, batch],
                timeout=max(1.0, deadline - time.monotonic()),
                check=False,
            )
        finally:
            os.close(batch)
        if done.returncode != 0:
            raise _failed(f"ip: {(done.stdout + done.stderr).decode(errors='replace').strip()}")

    def stop(self, timeout: float = 2.0) -> None:
        """Ask slirp4netns to exit (the run is over), SIGKILL it if it lingers, reap it."""
        self._close_exit_fd()
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.close()

    def kill(self) -> None:
        """SIGKILL slirp4netns now; safe to repeat."""
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()

    def close(self) -> None:
        """Kill and reap slirp4netns and close its exit fd."""
        self.kill()
        self._proc.wait()
        self._close_exit_fd()

    def _close_exit_fd(self) -> None:
        if self._exit_fd is not None:
            os.close(self._exit_fd)
            self._exit_fd = None
