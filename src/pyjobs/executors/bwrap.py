"""The bubblewrap command line of a run, and the in-memory files it reads by fd."""

import os
from collections.abc import Sequence
from pathlib import Path

from pyjobs.executors import netpolicy
from pyjobs.executors.sandbox_config import SandboxConfig

HOSTNAME = "pyjobs"

# Read-only pieces of /etc that ordinary programs need: TLS roots, the dynamic linker's
# cache, Debian's alternatives symlinks, time zone, and name-service configuration.
_ETC_ALWAYS = (
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/ld.so.cache",
    "/etc/alternatives",
    "/etc/localtime",
    "/etc/nsswitch.conf",
)
# resolv.conf is generated instead: the host's resolver is not reachable from the run's
# own network namespace, slirp4netns' DNS forwarder is.
_ETC_NETWORK = ("/etc/hosts", "/etc/host.conf", "/etc/gai.conf")
# Paths inside the sandbox, each a private tmpfs: not the host's shared temp directories.
_TMP = "/tmp"  # noqa: S108
_SHM = "/dev/shm"  # noqa: S108
_LOOPBACK_HOSTS = b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


class FdBundle:
    """Anonymous in-memory files passed to the sandbox chain by descriptor number."""

    def __init__(self) -> None:
        self.fds: list[int] = []

    def add(self, name: str, content: bytes) -> int:
        """Return a readable fd, positioned at the start, holding ``content``."""
        fd = os.memfd_create(name, os.MFD_CLOEXEC)
        self.fds.append(fd)
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
        return fd

    def close(self) -> None:
        """Close the parent's copies (the child keeps its own after spawn)."""
        for fd in self.fds:
            os.close(fd)
        self.fds.clear()


def _accounts(uids: list[int]) -> tuple[bytes, bytes]:
    """Minimal /etc/passwd and /etc/group naming only the ids the sandbox uses."""
    passwd, group = [], []
    for uid in dict.fromkeys([0, *uids, 65534]):
        name = {0: "root", 65534: "nobody"}.get(uid, "sandbox")
        home = "/root" if uid == 0 else _TMP
        passwd.append(f"{name}:x:{uid}:{uid}:{name}:{home}:/usr/sbin/nologin\n")
        group.append(f"{'nogroup' if uid == 65534 else name}:x:{uid}:\n")
    return "".join(passwd).encode(), "".join(group).encode()


def bwrap_options(
    config: SandboxConfig,
    *,
    host_uid: int,
    bundle: FdBundle,
    seccomp: bytes | None,
    handshake: Sequence[str] = (),
) -> list[str]:
    """Return the bwrap options (everything before ``--``) for ``config``.

    The network is always private; with ``config.network``, ``handshake`` holds the
    options that let slirp4netns connect it before the program starts.
    """
    mib = 1024 * 1024
    inner_uid = host_uid if config.inner_uid is None else config.inner_uid
    opts = ["--unshare-all", *handshake]
    opts += [
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--uid",
        str(inner_uid),
        "--gid",
        str(inner_uid),
        "--hostname",
        HOSTNAME,
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for name in ("lib", "lib64", "bin", "sbin"):
        opts += ["--symlink", f"usr/{name}", f"/{name}"]
    for path in _ETC_ALWAYS + (_ETC_NETWORK if config.network else ()):
        opts += ["--ro-bind-try", path, path]
    passwd, group = _accounts([inner_uid, host_uid])
    files = {"/etc/passwd": passwd, "/etc/group": group}
    if config.network:
        files["/etc/resolv.conf"] = netpolicy.resolv_conf()
    else:
        files["/etc/hosts"] = _LOOPBACK_HOSTS
    for target, content in files.items():
        opts += ["--perms", "0444", "--ro-bind-data", str(bundle.add(target, content)), target]
    tmp_bytes = str(config.tmp_size_mb * mib)
    opts += ["--proc", "/proc", "--dev", "/dev"]
    # /dev/shm would otherwise live on the uncapped /dev tmpfs that --dev creates.
    opts += ["--size", tmp_bytes, "--tmpfs", _SHM, "--size", tmp_bytes, "--tmpfs", _TMP]
    opts += ["--bind", str(config.workdir), "/work"]
    for mount in config.mounts:
        opts += ["--bind" if mount.writable else "--ro-bind", str(mount.source), mount.target]
    opts += ["--remount-ro", "/"]
    if seccomp is not None:
        opts += ["--seccomp", str(bundle.add("seccomp", seccomp))]
    opts.append("--clearenv")
    for name, value in config.env.items():
        opts += ["--setenv", name, value]
    opts += ["--chdir", "/work"]
    return opts


def args_fd(options: list[str], bundle: FdBundle) -> int:
    """Put ``options`` in an fd for ``bwrap --args``.

    That keeps the environment and host paths out of bwrap's command line, which the
    sandbox could read at /proc/1/cmdline and the host's other users with ps.
    """
    return bundle.add("bwrap-args", b"".join(opt.encode() + b"\0" for opt in options))


def probe_options() -> list[str]:
    """Return the smallest bwrap command line using the kernel features a real run needs."""
    opts = ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent"]
    opts += ["--new-session", "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr"]
    for name in ("lib", "lib64", "bin", "sbin"):
        opts += ["--symlink", f"usr/{name}", f"/{name}"]
    return [*opts, "--proc", "/proc", "--dev", "/dev", "--remount-ro", "/"]


def unreachable_ancestor(path: Path, uid: int, gid: int) -> Path | None:
    """Return the first directory on the way to ``path`` that ``uid`` may not traverse.

    bwrap resolves bind sources with the sandbox user's permissions (even when handed an
    fd), so a workdir under a 0700 home directory fails; saying so early is clearer.
    """
    for directory in [*reversed(path.parents), path]:
        try:
            st = directory.stat()
        except OSError:
            return directory
        if st.st_uid == uid:
            mask = 0o100
        elif st.st_gid == gid:
            mask = 0o010
        else:
            mask = 0o001
        if directory != path and not st.st_mode & mask:
            return directory
    return None
