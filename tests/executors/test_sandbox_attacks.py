"""Hostile programs in the real sandbox: each must fail safely and leave the host unharmed."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyjobs.executors.sandbox import Sandbox, SandboxConfig, SandboxMode, reap_orphans
from pyjobs.executors.workdir import read_workdir_file, remove_workdir
from tests.executors.helpers import (
    IS_ROOT,
    PYTHON,
    RunPython,
    host_can_fork,
    host_ipv4,
    processes_with,
    wait_until_gone,
)

bwrap_only = pytest.mark.usefixtures("needs_bwrap")

FORK_BOMB = """
import os, time
forks = 0
for _ in range(2000):
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        forks += 1
    except OSError:
        break
print("forks", forks, flush=True)
"""


def test_fork_bomb_is_stopped(run_python: RunPython, mode: SandboxMode) -> None:
    token = uuid.uuid4().hex
    run = run_python(f"# {token}\n{FORK_BOMB}", mode=mode, max_processes=40)
    forks = int(run.output.split()[-1])
    assert forks < 40, run.output
    assert not wait_until_gone(token), "fork bomb children survived the run"
    assert host_can_fork()


def test_memory_bomb_is_oom_killed(run_python: RunPython, mode: SandboxMode) -> None:
    code = "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 2**20))"
    result = run_python(code, mode=mode, memory_mb=128).result
    if not any(e.endswith(":memory") for e in result.enforced):
        pytest.skip("no memory cgroup on this machine (RLIMIT_AS raises MemoryError instead)")
    assert result.signal == signal.SIGKILL
    assert result.oom_killed


DAEMONS = """
import os, time
# {token}
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(1000)
    os._exit(0)
if os.fork() == 0:
    while True:
        pass
print("started", flush=True)
time.sleep(1000)
"""


def test_kill_after_timeout_leaves_no_process(workdir: Path, mode: SandboxMode) -> None:
    token = uuid.uuid4().hex
    code = DAEMONS.format(token=token)
    config = SandboxConfig(argv=[PYTHON, "-c", code], env={}, workdir=workdir)
    with Sandbox.start(config, mode, 1) as box:
        # main, busy child and double-forked daemon; under bwrap also bwrap and its pid 1,
        # whose command lines carry the program's too.
        expected = 5 if mode is SandboxMode.BWRAP else 3
        deadline = time.monotonic() + 10
        while len(processes_with(token)) < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(processes_with(token)) == expected, "daemons did not start"
        with pytest.raises(subprocess.TimeoutExpired):
            box.wait(timeout=0.3)
        box.kill()
        result = box.wait(timeout=10)
    assert result.signal == signal.SIGKILL
    assert not wait_until_gone(token)


def test_daemons_die_when_the_program_exits(workdir: Path, mode: SandboxMode) -> None:
    token = uuid.uuid4().hex
    code = f"""
import os, time
# {token}
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(1000)
    os._exit(0)
time.sleep(0.5)
"""
    config = SandboxConfig(argv=[PYTHON, "-c", code], env={}, workdir=workdir)
    with Sandbox.start(config, mode, 1) as box:
        assert box.wait(timeout=30).exit_code == 0
    assert not wait_until_gone(token)


def test_huge_file_write_stops_at_the_size_limit(
    run_python: RunPython, workdir: Path, mode: SandboxMode
) -> None:
    code = """
import errno
try:
    with open("huge", "wb") as f:
        for _ in range(10 * 1024):
            f.write(b"x" * 2**20)
except OSError as exc:
    print(errno.errorcode[exc.errno])
"""
    run = run_python(code, mode=mode, max_file_size_mb=8)
    assert run.output.strip() == "EFBIG"
    assert (workdir / "huge").stat().st_size <= 8 * 2**20


@bwrap_only
def test_writes_outside_the_workdir_fail(run_python: RunPython, host_dir: Path) -> None:
    outside = host_dir / "outside.txt"
    code = f"""
import errno
for path in ["/usr/evil", "/etc/passwd", "/evil", "/proc/evil", {str(outside)!r}]:
    try:
        open(path, "w").write("pwned")
        print(path, "WROTE")
    except OSError as exc:
        print(path, errno.errorcode[exc.errno])
"""
    run = run_python(code)
    assert "WROTE" not in run.output, run.output
    assert len(run.output.strip().splitlines()) == 5
    assert not outside.exists()
    assert not Path("/usr/evil").exists()


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """A secret in the server's own environment, which no sandbox may see."""
    secret = f"s3cret-{uuid.uuid4().hex}"
    monkeypatch.setenv("PYJOBS_TEST_SECRET", secret)
    return secret


READ_ENVIRONS = """
import glob, os
print(os.environ.get("PYJOBS_TEST_SECRET"))
for path in glob.glob("/proc/*/environ") + glob.glob("/proc/*/cmdline"):
    try:
        print(path, open(path, "rb").read())
    except OSError as exc:
        print(path, exc)
"""


def test_server_secrets_do_not_leak(
    run_python: RunPython, secret_env: str, mode: SandboxMode
) -> None:
    run = run_python(READ_ENVIRONS, mode=mode)
    assert run.result.exit_code == 0, run.output
    assert run.output.startswith("None\n")
    if mode is SandboxMode.BWRAP:
        assert "/proc/1/environ b''" in run.output
    assert secret_env not in run.output


@bwrap_only
def test_unmounted_host_files_are_absent(run_python: RunPython, host_dir: Path) -> None:
    secret = host_dir / "not-mounted" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("private")
    code = f"""
import os
print(os.path.exists({str(secret)!r}), os.path.exists("/root"), os.path.exists("/home"))
"""
    assert run_python(code).output.split() == ["False", "False", "False"]


def _serve(address: str) -> Iterator[int]:
    """A TCP listener on ``address`` answering ``host-only``; yields its port."""
    server = socket.create_server((address, 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"host-only\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


@pytest.fixture
def loopback_server() -> Iterator[int]:
    """A TCP listener on the host's 127.0.0.1; yields its port."""
    yield from _serve("127.0.0.1")


@pytest.fixture
def host_address() -> str:
    """The host's primary IPv4 address (not loopback)."""
    address = host_ipv4()
    if address is None:
        pytest.skip("the host has no global IPv4 address")
    return address


@pytest.fixture
def host_address_server(host_address: str) -> Iterator[int]:
    """A TCP listener on the host's primary IPv4 address; yields its port."""
    yield from _serve(host_address)


CONNECT = """
import socket
try:
    with socket.create_connection(("127.0.0.1", {port}), timeout=3) as conn:
        print(conn.recv(100).decode().strip())
except OSError as exc:
    print("refused", type(exc).__name__)
try:
    socket.getaddrinfo("pypi-mirror.invalid-pyjobs-test", 443)
    print("resolved")
except OSError as exc:
    print("no-dns", type(exc).__name__)
print(sorted(line.split(":")[0].strip() for line in open("/proc/net/dev").readlines()[2:]))
print(len(open("/proc/net/route").readlines()) - 1, "routes")
"""


@bwrap_only
def test_network_off_reaches_nothing_not_even_host_loopback(
    run_python: RunPython, loopback_server: int
) -> None:
    run = run_python(CONNECT.format(port=loopback_server), network=False)
    lines = run.output.strip().splitlines()
    assert lines[0].startswith("refused"), run.output
    assert lines[1].startswith("no-dns")
    # Only a private loopback exists and nothing is routable, so nothing leaves the box.
    assert lines[2] == "['lo']"
    assert lines[3] == "0 routes"


PROBE_PRIVATE_NETWORK = """
import errno, json, socket
def tcp(host, port):
    try:
        with socket.create_connection((host, port), timeout=3) as conn:
            return conn.recv(100).decode().strip()
    except OSError as exc:
        return errno.errorcode.get(exc.errno, type(exc).__name__)
def route(host, port):
    # connect() on a UDP socket only looks the route up: no packet leaves the sandbox.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((host, port))
            return "routable"
        except OSError as exc:
            return errno.errorcode[exc.errno]
print(json.dumps({{
    "loopback": tcp("127.0.0.1", {port}),
    "gateway": tcp("10.0.2.2", {port}),
    "host_address": tcp({host!r}, {host_port}),
    "host_address_udp": route({host!r}, {host_port}),
    "metadata": route("169.254.169.254", 80),
    "dns_forwarder_other_port": route("10.0.2.3", 5432),
    "dns_forwarder": route("10.0.2.3", 53),
    "nameservers": [
        line.split()[1] for line in open("/etc/resolv.conf") if line.startswith("nameserver")
    ],
    "localhost": socket.getaddrinfo("localhost", 80, socket.AF_INET)[0][4][0],
    "interfaces": sorted(
        line.split(":")[0].strip() for line in open("/proc/net/dev").readlines()[2:]
    ),
}}))
"""


@bwrap_only
def test_network_on_is_private_host_services_unreachable(
    run_python: RunPython, loopback_server: int, host_address: str, host_address_server: int
) -> None:
    # The run has its own namespace, NATed by slirp4netns: the host's loopback services
    # (databases with trust auth, the pyjobs API), its own addresses and metadata
    # addresses are out of reach, but DNS is there (the outside: see the install tests).
    code = PROBE_PRIVATE_NETWORK.format(
        port=loopback_server, host=host_address, host_port=host_address_server
    )
    run = run_python(code, network=True)
    assert run.result.exit_code == 0, run.output
    assert "net:private" in run.result.enforced
    seen = json.loads(run.output.strip().splitlines()[-1])
    assert seen["loopback"] == "ECONNREFUSED"  # the sandbox's own, empty loopback
    assert seen["gateway"] in ("ENETUNREACH", "EHOSTUNREACH", "ECONNREFUSED"), seen
    assert seen["host_address"] == "EHOSTUNREACH"
    assert seen["host_address_udp"] == "EHOSTUNREACH"
    assert seen["metadata"] == "EHOSTUNREACH"
    assert seen["dns_forwarder_other_port"] == "ENETUNREACH"
    assert seen["dns_forwarder"] == "routable"
    assert seen["nameservers"] == ["10.0.2.3"]
    assert seen["localhost"] == "127.0.0.1"
    assert seen["interfaces"] == ["lo", "tap0"]


@pytest.mark.skipif(not IS_ROOT, reason="needs root to start a victim as the sandbox uid")
def test_kill_minus_one_only_hits_the_sandbox(run_python: RunPython, mode: SandboxMode) -> None:
    # A host process of the very uid the sandbox runs as: the likeliest collateral victim.
    victim = subprocess.Popen(
        ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sleep", "60"]
    )
    try:
        status = Path(f"/proc/{victim.pid}/status")
        deadline = time.monotonic() + 10
        while "\t65534\t" not in status.read_text().split("Uid:")[1].split("\n")[0]:
            assert time.monotonic() < deadline, "victim never switched uid"
            time.sleep(0.01)
        code = "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass"
        run_python(code, mode=mode)
        time.sleep(0.2)
        survived = victim.poll() is None
    finally:
        victim.kill()
        victim.wait()
    assert host_can_fork()
    if not survived and mode is SandboxMode.NONE:
        pytest.xfail("mode none has no pid namespace: kill(-1) reaches same-uid processes")
    assert survived, "kill(-1) inside the sandbox reached a host process"


@bwrap_only
def test_planted_symlinks_are_not_followed_by_cleanup(
    run_python: RunPython, workdir: Path, host_dir: Path
) -> None:
    target = host_dir / "host-file.txt"
    target.write_text("host data")
    target.chmod(0o600)
    before = target.stat()
    code = f"""
import os
os.symlink({str(target)!r}, "result.txt")
os.symlink({str(host_dir)!r}, "dirlink")
os.symlink("/", "rootlink")
os.mkdir("sub")
os.symlink({str(target)!r}, "sub/out")
os.mkfifo("fifo")
"""
    assert run_python(code).result.exit_code == 0
    with pytest.raises(OSError, match="symbolic links"):
        read_workdir_file(workdir, "result.txt", 100)
    with pytest.raises(OSError, match=r"symbolic links|Not a directory"):
        read_workdir_file(workdir, "dirlink/host-file.txt", 100)
    with pytest.raises(ValueError, match="regular file"):
        read_workdir_file(workdir, "fifo", 100)
    with pytest.raises(ValueError, match="inside the workdir"):
        read_workdir_file(workdir, "../host-file.txt", 100)
    remove_workdir(workdir)
    assert not workdir.exists()
    after = target.stat()
    assert target.read_text() == "host data"
    assert (after.st_uid, after.st_gid, after.st_mode) == (
        before.st_uid,
        before.st_gid,
        before.st_mode,
    )
    assert "host-file.txt" in {p.name for p in host_dir.iterdir()}


@bwrap_only
def test_files_made_inside_are_not_root_owned_on_the_host(
    run_python: RunPython, workdir: Path
) -> None:
    run_python("import os; open('f', 'w').write('x'); os.mkdir('d')")
    for name in ("f", "d"):
        st = (workdir / name).lstat()
        assert st.st_uid == (65534 if IS_ROOT else os.geteuid())
        assert not st.st_mode & 0o6000  # no setuid/setgid bits


@bwrap_only
def test_cannot_see_or_signal_host_processes(run_python: RunPython) -> None:
    code = f"""
import os
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
print(len(pids) < 10, os.path.exists("/proc/{os.getpid()}/cmdline") and {os.getpid()} in pids)
"""
    assert run_python(code).output.split() == ["True", "False"]


@pytest.mark.skipif(not IS_ROOT, reason="needs a writable cgroup hierarchy")
def test_runs_orphaned_by_a_dead_server_are_reaped(workdir: Path, host_dir: Path) -> None:
    token = uuid.uuid4().hex
    script = host_dir / "server.py"
    # A stand-in server: starts a mode-none run (which survives it) and dies by SIGKILL.
    script.write_text(
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from pyjobs.executors.sandbox import Sandbox, SandboxConfig, SandboxMode\n"
        f"code = 'import time; time.sleep(60)  # {token}'\n"
        f"workdir = Path({str(workdir)!r})\n"
        f"config = SandboxConfig(argv=[{PYTHON!r}, '-c', code], env={{}}, workdir=workdir)\n"
        "Sandbox.start(config, SandboxMode.NONE, 1)\n"
        "time.sleep(0.5)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    subprocess.run([sys.executable, str(script)], check=False, timeout=30)
    if not processes_with(token):
        pytest.skip("no cgroup was available to leave behind")
    assert reap_orphans() >= 1
    assert not wait_until_gone(token)
