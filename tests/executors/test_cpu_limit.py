"""The task's CPU limit: a CFS quota on a per-run cpu cgroup, and a note where there is none."""

import json
import math
import time
import uuid
from pathlib import Path

import pytest

from pyjobs.executors import cgroupfs, cgroups
from pyjobs.executors.cgroupfs import V2
from pyjobs.executors.cgroups import RunCgroup, cpu_quota_us
from pyjobs.executors.local import LocalExecutor
from pyjobs.executors.sandbox import Sandbox, SandboxConfig, SandboxMode
from pyjobs.executors.sandbox_config import unenforced_limits
from pyjobs.status import RunStatus
from tests.executors.helpers import PYTHON, cgroup_dirs
from tests.support.host import require
from tests.support.local import run

CPU_ENTRIES = {"cgroup-v1:cpu", "cgroup-v2:cpu"}
BUSY_SECONDS = 1.5
# Spins for a fixed stretch of wall time and reports the CPU time it got meanwhile.
BUSY_LOOP = f"""
import json, time
wall0, cpu0 = time.monotonic(), time.process_time()
while time.monotonic() - wall0 < {BUSY_SECONDS}:
    pass
print(json.dumps({{"cpu": time.process_time() - cpu0, "wall": time.monotonic() - wall0}}))
"""


@pytest.fixture
def needs_cpu_cgroup() -> None:
    """Skip (fail on CI) unless this machine lets the sandbox create a limited cpu group."""
    probe = RunCgroup.create(memory_bytes=None, max_processes=16, cpu_cores=1.0)
    enforced = [] if probe is None else probe.enforced
    if probe is not None:
        probe.remove()
    require(
        bool(CPU_ENTRIES & set(enforced)),
        "no writable cpu cgroup here (cgroup v1 cpu hierarchy or delegated v2 cpu controller)",
    )


def _wait_for_run_group(pid: int, key: str, timeout: float = 10) -> Path:
    """The run's own group of ``pid`` in hierarchy ``key``, once its join wrapper put it there."""
    deadline = time.monotonic() + timeout
    while True:
        group = cgroup_dirs(pid).get(key)
        if group is not None and group.name.startswith("pyjobs-"):
            return group
        assert time.monotonic() < deadline, f"pid {pid} never joined a run group in {key!r}"
        time.sleep(0.01)


def _nr_throttled(group: Path) -> int:
    for line in (group / "cpu.stat").read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == "nr_throttled":
            return int(value)
    raise AssertionError(f"no nr_throttled in {group / 'cpu.stat'}")


def test_cpu_quota_is_the_cores_share_of_the_period() -> None:
    assert cgroups.CPU_PERIOD_US == 100_000
    assert cpu_quota_us(0.25) == 25_000
    assert cpu_quota_us(2) == 200_000
    assert cpu_quota_us(0.001) == 1_000  # the kernel's floor, not 100 µs
    assert cpu_quota_us(0.0123) == 1_230


@pytest.mark.parametrize("cores", [0, -1.0, math.nan, math.inf])
def test_config_refuses_cpu_cores_that_are_no_bandwidth(cores: float) -> None:
    with pytest.raises(ValueError, match="cpu_cores must be positive"):
        SandboxConfig(argv=["/bin/true"], env={}, workdir=Path("/w"), cpu_cores=cores)


def test_unenforced_limits_name_what_nothing_applied() -> None:
    config = SandboxConfig(
        argv=["/bin/true"], env={}, workdir=Path("/w"), cpu_cores=0.5, memory_mb=64
    )
    assert unenforced_limits(config, ["cgroup-v1:cpu", "cgroup-v1:memory"]) == []
    assert unenforced_limits(config, ["cgroup-v2:cpu", "rlimit:as"]) == []
    # rlimit:cpu caps CPU seconds; it is no CPU bandwidth limit.
    cpu, memory = unenforced_limits(config, ["rlimit:cpu", "cgroup-v1:pids"])
    assert "CPU limit of 0.5 cores could not be enforced on this machine" in cpu
    assert "memory limit of 64 MiB could not be enforced on this machine" in memory
    unlimited = SandboxConfig(argv=["/bin/true"], env={}, workdir=Path("/w"))
    assert unenforced_limits(unlimited, []) == []


@pytest.mark.usefixtures("needs_cpu_cgroup")
def test_a_busy_loop_gets_only_its_cpu_share(
    mode: SandboxMode, workdir: Path, host_dir: Path
) -> None:
    config = SandboxConfig(argv=[PYTHON, "-c", BUSY_LOOP], env={}, workdir=workdir, cpu_cores=0.25)
    log = host_dir / f"output-{uuid.uuid4().hex}.log"
    with log.open("wb") as out, Sandbox.start(config, mode, out.fileno()) as box:
        assert CPU_ENTRIES & set(box.enforced), box.enforced
        if "cgroup-v1:cpu" in box.enforced:
            group = _wait_for_run_group(box.pid, "cpu")
            assert (group / "cpu.cfs_period_us").read_text().strip() == "100000"
            assert (group / "cpu.cfs_quota_us").read_text().strip() == "25000"
        else:
            group = _wait_for_run_group(box.pid, V2)
            assert (group / "cpu.max").read_text().split() == ["25000", "100000"]
        result = box.wait(timeout=60)
        # The program is gone but its group stays until close(): its statistics are final.
        throttled = _nr_throttled(group)
    assert not group.exists()
    output = log.read_text(errors="replace")
    assert result.exit_code == 0, output
    used = json.loads(output.strip().splitlines()[-1])
    assert used["wall"] >= BUSY_SECONDS
    # About 0.25 x wall is expected; the bound only shows that throttling happens at all.
    assert used["cpu"] < 0.6 * used["wall"], used
    # Throttled, unless the shared machine gave it less than its quota anyway.
    assert throttled > 0 or used["cpu"] < 0.25 * used["wall"], (throttled, used)


@pytest.mark.usefixtures("needs_cpu_cgroup")
def test_a_task_with_a_cpu_limit_records_it(executor: LocalExecutor) -> None:
    done = run(executor, {"python_code": "print('within limits')", "cpu": 0.5})
    assert done.state.status is RunStatus.SUCCEEDED, done.text
    assert CPU_ENTRIES & set(done.state.limits), done.state.limits
    assert done.text.endswith("within limits\n")
    assert "could not be enforced" not in done.text


def test_a_cpu_limit_the_machine_cannot_apply_is_noted_in_the_log(
    executor: LocalExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = cgroupfs.write_control

    def refuse_cpu(path: Path, value: str) -> bool:
        # As on a host without a cpu controller: the kernel takes no CPU quota.
        return not path.name.startswith("cpu.") and write(path, value)

    monkeypatch.setattr(cgroups, "write_control", refuse_cpu)
    done = run(executor, {"python_code": "print('unthrottled')", "cpu": 0.5})
    assert done.state.status is RunStatus.SUCCEEDED, done.text
    assert not CPU_ENTRIES & set(done.state.limits), done.state.limits
    note = "[pyjobs] WARNING: the CPU limit of 0.5 cores could not be enforced on this machine"
    assert done.text.index(note) < done.text.index("unthrottled")
