"""The sandbox primitive: what a program sees inside, limits, modes and configuration."""

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from pyjobs.errors import PyjobsError, SandboxUnavailableError
from pyjobs.executors import sandbox as sandbox_module
from pyjobs.executors.sandbox import (
    Mount,
    Sandbox,
    SandboxConfig,
    SandboxMode,
    resolve_mode,
)
from pyjobs.executors.seccomp import ARCHES, build_filter
from tests.executors import conftest
from tests.executors.helpers import IS_ROOT, PYTHON, RunPython

bwrap_only = pytest.mark.usefixtures("needs_bwrap")

SHOW_CONTEXT = """
import json, os
print(json.dumps({"uid": os.getuid(), "cwd": os.getcwd(), "env": dict(os.environ),
                  "root": sorted(os.listdir("/"))}))
"""


def _last_json(output: str) -> dict[str, object]:
    return dict(json.loads(output.strip().splitlines()[-1]))


@bwrap_only
def test_program_sees_only_its_env_workdir_and_a_minimal_root(run_python: RunPython) -> None:
    run = run_python(SHOW_CONTEXT, env={"PATH": "/usr/bin", "GREETING": "hi there"})
    assert run.result.exit_code == 0, run.output
    seen = _last_json(run.output)
    assert seen["cwd"] == "/work"
    env = seen["env"]
    assert isinstance(env, dict)
    # Python itself adds LC_CTYPE (PEP 538 locale coercion); nothing else may appear.
    assert {k: v for k, v in env.items() if k != "LC_CTYPE"} == {
        "PATH": "/usr/bin",
        "GREETING": "hi there",
        "PWD": "/work",
    }
    root = seen["root"]
    assert isinstance(root, list)
    assert set(root) <= {"bin", "dev", "etc", "lib", "lib64", "proc", "sbin", "tmp", "usr", "work"}
    assert "root" not in root


@bwrap_only
def test_enforced_lists_what_applies_here(run_python: RunPython) -> None:
    run = run_python("pass", memory_mb=256, cpu_seconds=30, network=False)
    enforced = set(run.result.enforced)
    assert {"bwrap", "seccomp", "net:isolated", "rlimit:fsize", "rlimit:nofile"} <= enforced
    assert "rlimit:cpu" in enforced
    assert any(e.startswith("cgroup") and e.endswith(":memory") for e in enforced) or (
        "rlimit:as" in enforced
    )
    if IS_ROOT:
        assert {"uid:65534", "rlimit:nproc"} <= enforced


@bwrap_only
def test_exit_status_and_signals_are_reported(run_python: RunPython) -> None:
    exited = run_python("raise SystemExit(3)").result
    assert (exited.exit_code, exited.signal, exited.oom_killed) == (3, None, False)
    killed = run_python("import os, signal; os.kill(os.getpid(), signal.SIGTERM)").result
    assert (killed.exit_code, killed.signal) == (None, signal.SIGTERM)


@bwrap_only
def test_output_and_errors_share_the_given_fd(run_python: RunPython) -> None:
    run = run_python("import sys; print('out', flush=True); print('err', file=sys.stderr)")
    assert run.output.split() == ["out", "err"]


@bwrap_only
def test_stdin_is_empty(run_python: RunPython) -> None:
    assert run_python("import sys; print(repr(sys.stdin.read()))").output.strip() == "''"


@bwrap_only
def test_threads_subprocess_and_multiprocessing_work_under_seccomp(run_python: RunPython) -> None:
    code = """
import multiprocessing, subprocess, threading
t = threading.Thread(target=print, args=("thread",)); t.start(); t.join()
print(subprocess.run(["/usr/bin/echo", "child"], capture_output=True, text=True).stdout.strip())
def square(x): return x * x
if __name__ == "__main__":
    with multiprocessing.Pool(2) as pool:
        print(sum(pool.map(square, range(10))))
"""
    run = run_python(code)
    assert run.result.exit_code == 0, run.output
    assert run.output.split() == ["thread", "child", "285"]


@bwrap_only
def test_seccomp_denies_dangerous_syscalls(run_python: RunPython) -> None:
    arch = ARCHES[os.uname().machine]
    code = f"""
import ctypes, errno, socket
libc = ctypes.CDLL(None, use_errno=True)
def err(nr, *args):
    ctypes.set_errno(0)
    rc = libc.syscall(nr, *args)
    return "ok" if rc >= 0 else errno.errorcode[ctypes.get_errno()]
out = {{name: err(nr, 0, 0, 0, 0) for name, nr in {arch.denied!r}.items()}}
for fam in (socket.AF_NETLINK, socket.AF_PACKET, socket.AF_VSOCK):
    try:
        socket.socket(fam, socket.SOCK_DGRAM if fam != socket.AF_PACKET else socket.SOCK_RAW)
        out[str(fam)] = "ok"
    except OSError as exc:
        out[str(fam)] = errno.errorcode[exc.errno]
out["tiocsti"] = err({arch.ioctl}, 1, 0x5412, 0)
out["inet"] = "ok" if socket.socket(socket.AF_INET, socket.SOCK_STREAM) else "no"
print(repr(out))
"""
    run = run_python(code)
    assert run.result.exit_code == 0, run.output
    seen = eval(run.output.strip().splitlines()[-1])  # noqa: S307 - our own repr() of a dict
    assert seen.pop("inet") == "ok"
    assert set(seen.values()) == {"EPERM"}, seen


def test_seccomp_filter_is_a_whole_number_of_instructions() -> None:
    for machine in ("x86_64", "aarch64"):
        program = build_filter(machine)
        assert len(program) % 8 == 0
        assert 0 < len(program) // 8 < 4096
    with pytest.raises(ValueError, match="architecture"):
        build_filter("pdp11")


@bwrap_only
def test_mounts_read_only_and_writable(run_python: RunPython, host_dir: Path) -> None:
    ro, rw = host_dir / "ro", host_dir / "rw"
    ro.mkdir()
    rw.mkdir()
    (ro / "data.txt").write_text("shared")
    if IS_ROOT:
        os.chown(rw, 65534, 65534)
    code = """
print(open("/env/data.txt").read())
open("/cache/new.txt", "w").write("cached")
try:
    open("/env/evil.txt", "w")
except OSError as exc:
    print("ro", exc.errno)
"""
    run = run_python(code, mounts=[Mount(ro, "/env"), Mount(rw, "/cache", writable=True)])
    assert run.result.exit_code == 0, run.output
    assert run.output.split() == ["shared", "ro", "30"]  # EROFS
    assert (rw / "new.txt").read_text() == "cached"
    assert sorted(p.name for p in ro.iterdir()) == ["data.txt"]


@bwrap_only
def test_tmp_is_private_and_capped(run_python: RunPython) -> None:
    code = """
import errno
try:
    with open("/tmp/fill", "wb") as f:
        for _ in range(64):
            f.write(b"x" * 2**20)
except OSError as exc:
    print(errno.errorcode[exc.errno])
"""
    assert run_python(code, tmp_size_mb=8).output.strip() == "ENOSPC"


@bwrap_only
def test_cpu_limit_stops_a_spinning_job(run_python: RunPython) -> None:
    result = run_python("while True: pass", cpu_seconds=1).result
    assert result.signal in (signal.SIGXCPU, signal.SIGKILL)


@bwrap_only
def test_open_files_limit(run_python: RunPython) -> None:
    code = """
fds = []
try:
    while True:
        fds.append(open("/dev/null"))
except OSError as exc:
    print(exc.errno, len(fds) < 64)
"""
    assert run_python(code, max_open_files=32).output.split() == ["24", "True"]  # EMFILE


def test_mode_none_still_limits_and_clears_the_environment(
    run_python: RunPython, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYJOBS_TEST_SECRET", "hunter2")
    code = """
import errno, os
print(os.getcwd(), sorted(os.environ), os.getsid(0) == os.getpid())
try:
    open("big", "wb").write(b"x" * (3 * 2**20))
except OSError as exc:
    print(errno.errorcode[exc.errno])
"""
    run = run_python(code, mode=SandboxMode.NONE, env={"A": "1"}, max_file_size_mb=1)
    assert run.result.exit_code == 0, run.output
    first, second = run.output.strip().splitlines()[-2:]
    assert first == f"{workdir} ['A', 'LC_CTYPE'] True"
    assert second == "EFBIG"
    assert "bwrap" not in run.result.enforced
    assert "rlimit:fsize" in run.result.enforced


@pytest.mark.skipif(not IS_ROOT, reason="the uid switch happens only when running as root")
@bwrap_only
def test_uid_zero_inside_is_unprivileged_outside(run_python: RunPython, workdir: Path) -> None:
    code = "import os; open('made-by-root', 'w').write('x'); print(os.getuid(), os.geteuid())"
    run = run_python(code, inner_uid=0)
    assert run.output.split() == ["0", "0"]
    owner = (workdir / "made-by-root").stat()
    assert (owner.st_uid, owner.st_gid) == (65534, 65534)


@pytest.mark.skipif(not IS_ROOT, reason="the uid switch happens only when running as root")
def test_workdir_the_sandbox_user_cannot_reach_is_refused(tmp_path: Path) -> None:
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    workdir = hidden / "work"
    workdir.mkdir()
    config = SandboxConfig(argv=[PYTHON, "-c", "pass"], env={}, workdir=workdir)
    with pytest.raises(PermissionError, match="cannot reach"):
        Sandbox.start(config, SandboxMode.NONE, 1)


def test_resolve_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_mode(SandboxMode.NONE) is SandboxMode.NONE
    monkeypatch.setattr(sandbox_module, "bwrap_unavailable_reason", lambda: "no bwrap here")
    assert resolve_mode(SandboxMode.AUTO) is SandboxMode.NONE
    with pytest.raises(SandboxUnavailableError) as caught:
        resolve_mode(SandboxMode.BWRAP)
    assert isinstance(caught.value, PyjobsError)
    assert (caught.value.mode, caught.value.reason) == ("bwrap", "no bwrap here")
    monkeypatch.setattr(sandbox_module, "bwrap_unavailable_reason", lambda: None)
    assert resolve_mode(SandboxMode.AUTO) is SandboxMode.BWRAP


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        ([], {}, "argv is empty"),
        (["/usr/bin/a=b"], {}, "must not contain '='"),
        (["/bin/x\0y"], {}, "NUL"),
        (["/bin/true"], {"A=B": "1"}, "invalid environment"),
        (["/bin/true"], {"BIG": "x" * 200_000}, "limit"),
    ],
)
def test_config_validation(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SandboxConfig(argv=argv, env=env, workdir=Path("/nonexistent"))


def test_config_rejects_bad_limits_and_mounts() -> None:
    with pytest.raises(ValueError, match="memory_mb"):
        SandboxConfig(argv=["/bin/true"], env={}, workdir=Path("/w"), memory_mb=0)
    with pytest.raises(ValueError, match="mount target"):
        SandboxConfig(
            argv=["/bin/true"], env={}, workdir=Path("/w"), mounts=[Mount(Path("/x"), "rel")]
        )


@bwrap_only
def test_wait_timeout_raises_like_popen(workdir: Path) -> None:
    config = SandboxConfig(
        argv=[PYTHON, "-c", "import time; time.sleep(60)"], env={}, workdir=workdir
    )
    with Sandbox.start(config, SandboxMode.BWRAP, 1) as box:
        with pytest.raises(subprocess.TimeoutExpired):
            box.wait(timeout=0.2)
        box.kill()
        box.kill()
        assert box.wait(timeout=10).signal == signal.SIGKILL
    box.kill()
    box.close()


def test_wait_with_a_timeout_returns_an_exit_before_or_after_the_call(
    mode: SandboxMode, workdir: Path
) -> None:
    config = SandboxConfig(argv=[PYTHON, "-c", "raise SystemExit(3)"], env={}, workdir=workdir)
    with Sandbox.start(config, mode, 1) as box:
        assert box.wait(timeout=30).exit_code == 3  # exits while waited on (a pidfd)
        assert box.wait(timeout=30).exit_code == 3  # already reaped: no pidfd to open
    quick = SandboxConfig(argv=["/bin/true"], env={}, workdir=workdir)
    with Sandbox.start(quick, mode, 1) as box:
        os.waitid(os.P_PID, box.pid, os.WEXITED | os.WNOWAIT)  # a zombie, not yet reaped
        assert box.wait(timeout=30).exit_code == 0


@pytest.mark.parametrize(
    ("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)]
)
def test_missing_bwrap_skips_locally_and_fails_on_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setattr(conftest, "bwrap_unavailable_reason", lambda: "bwrap is not installed")
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="bwrap is not installed"):
        conftest.require_bwrap()


@bwrap_only
def test_close_removes_the_run_cgroups(run_python: RunPython) -> None:
    roots = [p for p in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup/freezer")) if p.is_dir()]

    def count() -> int:
        return sum(1 for root in roots for _ in root.glob("**/pyjobs-*"))

    before = count()
    result = run_python("pass", max_processes=10).result
    if not any(e.startswith("cgroup") for e in result.enforced):
        pytest.skip("no writable cgroup hierarchy here")
    assert count() == before
