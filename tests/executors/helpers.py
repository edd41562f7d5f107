"""Helpers for sandbox tests: inspecting host processes and run results."""

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pyjobs.executors.cgroupfs import V2, mounted_hierarchies
from pyjobs.executors.sandbox import SandboxResult

PYTHON = "/usr/bin/python3"
IS_ROOT = os.geteuid() == 0


@dataclass
class Run:
    """What a finished run left: its result and its combined output."""

    result: SandboxResult
    output: str


RunPython = Callable[..., Run]


def processes_with(token: str) -> list[int]:
    """Pids of live (non-zombie) host processes whose command line contains ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if token.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def wait_until_gone(token: str, timeout: float = 10) -> list[int]:
    """Poll until no process carries ``token``; return the survivors (empty on success)."""
    deadline = time.monotonic() + timeout
    while (left := processes_with(token)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def host_can_fork() -> bool:
    """Whether the host itself can still start a process."""
    return subprocess.run(["/usr/bin/true"], check=False).returncode == 0


def cgroup_dirs(pid: int) -> dict[str, Path]:
    """Host directories of ``pid``'s groups, by v1 controller (and ``V2`` for the unified tree)."""
    mounts = mounted_hierarchies()
    found: dict[str, Path] = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [V2]:
            if name in mounts:
                mount_point, mount_root = mounts[name]
                found[name] = mount_point / os.path.relpath(path, mount_root)
    return found


def helper_processes(name: str = "slirp4netns") -> list[int]:
    """Pids of this process's children called ``name``, zombies included (not yet reaped)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = dict(
                line.split(":\t", 1) for line in (entry / "status").read_text().splitlines()
            )
        except (OSError, ValueError):
            continue
        if status.get("Name") == name and status.get("PPid") == str(os.getpid()):
            found.append(int(entry.name))
    return found


def wait_for(check: Callable[[], bool], timeout: float = 10) -> bool:
    """Poll ``check`` until it holds or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def host_ipv4() -> str | None:
    """The host's first global IPv4 address, read from ``ip`` (nothing is sent anywhere)."""
    ip = shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin")
    if ip is None:
        return None
    shown = subprocess.run(
        [ip, "-4", "-o", "addr", "show", "scope", "global"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    for line in shown.splitlines():
        fields = line.split()
        if "inet" in fields:
            return fields[fields.index("inet") + 1].split("/")[0]
    return None
