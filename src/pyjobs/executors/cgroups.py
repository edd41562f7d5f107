"""Per-run cgroups: memory, process and CPU limits, OOM accounting and whole-tree kill.

Each run gets its own group, created as a child of the server's own group in every
hierarchy it uses (so the host's accounting of the server still covers its runs).
cgroup v1 (``memory``, ``pids``, ``cpu``, ``freezer`` hierarchies) and a delegated cgroup
v2 subtree (``memory.max``, ``pids.max``, ``cpu.max``, ``cgroup.kill``) are both
supported; whatever the machine does not offer is skipped, and ``enforced`` says what
really applied.
"""

import contextlib
import logging
import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from pyjobs.executors.cgroupfs import (
    V2,
    Mounts,
    group_dir,
    mounted_hierarchies,
    own_groups,
    write_control,
)

log = logging.getLogger(__name__)

_PREFIX = "pyjobs-"
# The CFS period of every run's CPU quota: the kernel's default, short enough that a
# throttled job stalls for at most a fraction of 0.1 s at a time.
CPU_PERIOD_US = 100_000
# The kernel refuses quotas under 1 ms, so a smaller share is rounded up to that.
MIN_CPU_QUOTA_US = 1_000


def cpu_quota_us(cores: float) -> int:
    """The CFS quota per ``CPU_PERIOD_US`` that gives ``cores`` CPUs' worth of time."""
    return max(MIN_CPU_QUOTA_US, round(cores * CPU_PERIOD_US))


@dataclass
class RunCgroup:
    """The cgroup directories of one run, and what they enforce."""

    dirs: list[Path] = field(default_factory=list)
    enforced: list[str] = field(default_factory=list)
    memory_v1: Path | None = None
    freezer_v1: Path | None = None
    v2: Path | None = None

    @classmethod
    def create(
        cls, *, memory_bytes: int | None, max_processes: int, cpu_cores: float | None = None
    ) -> "RunCgroup | None":
        """Create the run's groups where this machine allows it; None if nothing is writable."""
        mounts, own = mounted_hierarchies(), own_groups()
        run = cls()
        # The server's pid in the name tells orphans (server gone) from live runs of others.
        name = f"{_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"
        try:
            for setup in (run._setup_v1, run._setup_v2):
                setup(
                    name,
                    mounts,
                    own,
                    memory_bytes=memory_bytes,
                    max_processes=max_processes,
                    cpu_cores=cpu_cores,
                )
        except BaseException:
            run.remove()
            raise
        return run if run.dirs else None

    def _mkdir(self, parent: Path | None, name: str) -> Path | None:
        if parent is None or not os.access(parent, os.W_OK):
            return None
        path = parent / name
        if path in self.dirs:
            return path
        try:
            path.mkdir(mode=0o755)
        except OSError as exc:
            log.debug("cannot create cgroup %s: %s", path, exc)
            return None
        self.dirs.append(path)
        return path

    def _setup_v1(
        self,
        name: str,
        mounts: Mounts,
        own: dict[str, str],
        *,
        memory_bytes: int | None,
        max_processes: int,
        cpu_cores: float | None,
    ) -> None:
        if memory_bytes is not None:
            mem = self._mkdir(group_dir("memory", mounts, own), name)
            if mem and write_control(mem / "memory.limit_in_bytes", str(memory_bytes)):
                self.memory_v1 = mem
                self.enforced.append("cgroup-v1:memory")
                # Without memsw the limit only covers RAM and a job could spill into swap.
                if (mem / "memory.memsw.limit_in_bytes").exists() and write_control(
                    mem / "memory.memsw.limit_in_bytes", str(memory_bytes)
                ):
                    self.enforced.append("cgroup-v1:memsw")
        pids = self._mkdir(group_dir("pids", mounts, own), name)
        if pids and write_control(pids / "pids.max", str(max_processes)):
            self.enforced.append("cgroup-v1:pids")
        if cpu_cores is not None:
            # A group whose quota the kernel refused stays in the run, harmless and unlimited
            # (it may be the memory or pids group too, where controllers share a hierarchy).
            cpu = self._mkdir(group_dir("cpu", mounts, own), name)
            if (
                cpu
                and write_control(cpu / "cpu.cfs_period_us", str(CPU_PERIOD_US))
                and write_control(cpu / "cpu.cfs_quota_us", str(cpu_quota_us(cpu_cores)))
            ):
                self.enforced.append("cgroup-v1:cpu")
        self.freezer_v1 = self._mkdir(group_dir("freezer", mounts, own), name)
        if self.freezer_v1:
            self.enforced.append("cgroup-v1:freezer")

    def _setup_v2(
        self,
        name: str,
        mounts: Mounts,
        own: dict[str, str],
        *,
        memory_bytes: int | None,
        max_processes: int,
        cpu_cores: float | None,
    ) -> None:
        parent = group_dir(V2, mounts, own)
        if parent is None:
            return
        try:
            delegated = set((parent / "cgroup.subtree_control").read_text().split())
        except OSError:
            return
        want_memory = memory_bytes is not None and self.memory_v1 is None
        want_pids = "cgroup-v1:pids" not in self.enforced
        want_cpu = cpu_cores is not None and "cgroup-v1:cpu" not in self.enforced
        usable = (
            (want_memory and "memory" in delegated)
            or (want_pids and "pids" in delegated)
            or (want_cpu and "cpu" in delegated)
        )
        # A v2 group is only worth it where it limits something (hybrid hosts keep v2 bare).
        if not usable:
            return
        group = self._mkdir(parent, name)
        if group is None:
            return
        self.v2 = group
        if want_memory and "memory" in delegated:
            if write_control(group / "memory.max", str(memory_bytes)):
                self.enforced.append("cgroup-v2:memory")
            write_control(group / "memory.swap.max", "0")
        if (
            want_pids
            and "pids" in delegated
            and write_control(group / "pids.max", str(max_processes))
        ):
            self.enforced.append("cgroup-v2:pids")
        if want_cpu and cpu_cores is not None and "cpu" in delegated:
            quota = f"{cpu_quota_us(cpu_cores)} {CPU_PERIOD_US}"
            if write_control(group / "cpu.max", quota):
                self.enforced.append("cgroup-v2:cpu")

    @property
    def procs_files(self) -> list[Path]:
        """The ``cgroup.procs`` files a process writes its pid to, to join the run."""
        return [d / "cgroup.procs" for d in self.dirs]

    def pids(self) -> set[int]:
        """Every process currently in any of the run's groups."""
        found: set[int] = set()
        for procs in self.procs_files:
            with contextlib.suppress(OSError):
                found.update(int(p) for p in procs.read_text().split())
        return found

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer acted inside this run's memory limit."""
        files = []
        if self.memory_v1:
            files.append(self.memory_v1 / "memory.oom_control")
        if self.v2:
            files.append(self.v2 / "memory.events")
        for path in files:
            with contextlib.suppress(OSError):
                for line in path.read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and int(value) > 0:
                        return True
        return False

    def kill_all(self, timeout: float = 5.0) -> bool:
        """SIGKILL every process of the run, forks in flight included; True once empty."""
        if self.v2 and write_control(self.v2 / "cgroup.kill", "1"):
            return self._wait_empty(timeout)
        if not self.pids():
            return True
        # Frozen tasks cannot fork, so one pass catches a fork bomb; SIGKILL lands on thaw.
        frozen = self._freeze()
        deadline = time.monotonic() + timeout
        while pids := self.pids():
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if frozen:
                frozen = not self._thaw()
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
        if frozen:
            self._thaw()
        return not self.pids()

    def _thaw(self) -> bool:
        return self.freezer_v1 is not None and write_control(
            self.freezer_v1 / "freezer.state", "THAWED"
        )

    def _freeze(self) -> bool:
        if self.freezer_v1 is None:
            return False
        state = self.freezer_v1 / "freezer.state"
        if not write_control(state, "FROZEN"):
            return False
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if state.read_text().strip() == "FROZEN":
                    return True
            time.sleep(0.002)
        return True  # still FREEZING: the kill loop copes, and thawing undoes it either way

    def _wait_empty(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.pids():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def remove(self) -> None:
        """Delete the run's groups (they must be empty); leftovers are logged, not raised."""
        for path in reversed(self.dirs):
            last: OSError | None = None
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    # Exiting tasks linger in cgroup.procs for a moment after SIGKILL.
                    last = exc
                    time.sleep(0.01)
            else:
                log.warning("could not remove cgroup %s: %s", path, last)
        self.dirs.clear()


def reap_orphans() -> int:
    """Kill and remove run groups whose server process is gone; return how many.

    A server killed mid-run leaves its groups behind (and, in mode none, their processes);
    call this at start-up. Groups of live servers, this one included, are left alone.
    """
    mounts, own = mounted_hierarchies(), own_groups()
    keys = ("memory", "pids", "cpu", "freezer", V2)
    parents = {d for d in (group_dir(key, mounts, own) for key in keys) if d is not None}
    orphans: dict[str, RunCgroup] = {}
    for parent in parents:
        for path in parent.glob(f"{_PREFIX}*-*"):
            owner = path.name.removeprefix(_PREFIX).split("-", 1)[0]
            if not owner.isdigit() or Path(f"/proc/{owner}").exists():
                continue
            run = orphans.setdefault(path.name, RunCgroup())
            run.dirs.append(path)
            if (path / "freezer.state").exists():
                run.freezer_v1 = path
            if (path / "cgroup.kill").exists():
                run.v2 = path
    for run in orphans.values():
        run.kill_all()
        run.remove()
    return len(orphans)
