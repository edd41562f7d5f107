"""Network-on runs' private network: the slirp4netns helper's life, failures and policy."""

import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest

from pyjobs.errors import SandboxUnavailableError
from pyjobs.executors import sandbox as sandbox_module
from pyjobs.executors import usernet
from pyjobs.executors.local import LocalExecutor
from pyjobs.executors.localconfig import LocalRunConfig
from pyjobs.executors.netpolicy import host_addresses, resolv_conf, route_commands
from pyjobs.executors.sandbox import (
    Mount,
    Sandbox,
    SandboxConfig,
    SandboxMode,
    reap_orphans,
    resolve_mode,
)
from pyjobs.executors.sandbox_chain import tool
from pyjobs.status import FailureReason, RunStatus
from tests.executors.helpers import (
    IS_ROOT,
    PYTHON,
    RunPython,
    helper_processes,
    wait_for,
    wait_until_gone,
)
from tests.executors.test_local import wait_for_output
from tests.support.local import run, submit

bwrap_only = pytest.mark.usefixtures("needs_bwrap")


def _sleeper(workdir: Path, token: str, seconds: int = 60) -> SandboxConfig:
    code = f"import time; print('ready', flush=True); time.sleep({seconds})  # {token}"
    return SandboxConfig(argv=[PYTHON, "-c", code], env={}, workdir=workdir, network=True)


@bwrap_only
def test_the_helper_lives_as_long_as_the_program(workdir: Path) -> None:
    token = uuid.uuid4().hex
    with Sandbox.start(_sleeper(workdir, token, seconds=1), SandboxMode.BWRAP, 1) as box:
        helpers = helper_processes()
        assert len(helpers) == 1, "one slirp4netns per network-on run"
        if IS_ROOT:
            uid_line = Path(f"/proc/{helpers[0]}/status").read_text().split("Uid:")[1]
            assert uid_line.split()[:2] == ["65534", "65534"], "the helper must not be root"
        assert Path(f"/proc/{helpers[0]}/environ").read_bytes() == b""
        assert box.wait(timeout=30).exit_code == 0
        # wait() alone stops and reaps it: a finished run leaves no helper behind.
        assert helper_processes() == []
    assert not wait_until_gone(token)


@bwrap_only
def test_kill_takes_the_helper_down(workdir: Path) -> None:
    token = uuid.uuid4().hex
    with Sandbox.start(_sleeper(workdir, token), SandboxMode.BWRAP, 1) as box:
        [helper] = helper_processes()
        box.kill()
        assert box.wait(timeout=10).signal == signal.SIGKILL
        assert helper_processes() == []
        assert not Path(f"/proc/{helper}").exists()
    assert not wait_until_gone(token)


@bwrap_only
def test_the_helper_dies_with_a_killed_server(workdir: Path, host_dir: Path) -> None:
    token = uuid.uuid4().hex
    script = host_dir / "server.py"
    # A stand-in server: starts a network-on run, reports its helper's pid, dies by SIGKILL.
    script.write_text(
        "import os, sys\n"
        "from pathlib import Path\n"
        "from pyjobs.executors.sandbox import Sandbox, SandboxConfig, SandboxMode\n"
        "from tests.executors.helpers import helper_processes\n"
        f"code = 'import time; time.sleep(60)  # {token}'\n"
        f"workdir = Path({str(workdir)!r})\n"
        f"config = SandboxConfig(argv=[{PYTHON!r}, '-c', code], env={{}}, workdir=workdir)\n"
        "Sandbox.start(config, SandboxMode.BWRAP, 2)\n"
        "print(*helper_processes(), flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert done.stdout.split(), done.stderr
    [helper] = map(int, done.stdout.split())
    try:
        # Its exit fd closed with the server: slirp4netns quits on its own, no reaper needed.
        assert wait_for(lambda: not Path(f"/proc/{helper}").exists()), "the helper outlived us"
        assert not wait_until_gone(token)
    finally:
        reap_orphans()  # the dead server's cgroups


@bwrap_only
def test_a_cancelled_run_leaves_no_helper(executor: LocalExecutor) -> None:
    token = uuid.uuid4().hex
    code = f"import time\nprint('ready', flush=True)\ntime.sleep(600)  # {token}\n"
    state = submit(executor, {"python_code": code, "network": True})
    wait_for_output(executor, state.run_id, b"ready")
    assert len(helper_processes()) == 1
    executor.cancel(state.run_id)
    assert executor.wait(state.run_id, 30).status is RunStatus.CANCELLED
    assert helper_processes() == []
    assert not wait_until_gone(token)


@pytest.mark.network
def test_packages_install_through_the_private_network(
    local_config: LocalRunConfig, host_dir: Path
) -> None:
    # A sandbox root of its own: an empty uv cache, so the download really happens, from
    # inside the build's sandbox and its private network.
    config = replace(local_config, sandbox_root=host_dir / "sandbox-root")
    code = "import six; print('six', six.__version__)"
    with closing(LocalExecutor(config)) as executor:
        done = run(executor, {"python_code": code, "dependencies": ["six"]})
    assert done.state.status is RunStatus.SUCCEEDED, done.text
    assert done.text.splitlines()[-1].startswith("six 1.")
    assert "net:private" in done.state.limits
    assert any(config.uv_cache_dir.rglob("six-*")), "uv's cache stayed empty"
    assert helper_processes() == []


def test_a_missing_helper_fails_network_runs_clearly(
    run_python: RunPython, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = "slirp4netns is not installed (Debian package slirp4netns)"
    monkeypatch.setattr(sandbox_module, "usernet_unavailable_reason", lambda: missing)
    monkeypatch.setattr(sandbox_module, "bwrap_unavailable_reason", lambda: None)
    config = SandboxConfig(argv=[PYTHON, "-c", "pass"], env={}, workdir=workdir)
    for mode in (SandboxMode.BWRAP, SandboxMode.AUTO):
        # Never the host's network instead, nor no sandbox at all.
        with pytest.raises(SandboxUnavailableError, match="slirp4netns is not installed"):
            Sandbox.start(config, mode, 1)
        assert resolve_mode(mode) is SandboxMode.BWRAP  # network-off runs are unaffected
    assert resolve_mode(SandboxMode.NONE, network=True) is SandboxMode.NONE


def test_without_the_helper_a_network_run_fails_and_says_why(
    executor: LocalExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Environments are built with network: have the (empty) one ready beforehand.
    assert run(executor, {"python_code": "pass"}).state.status is RunStatus.SUCCEEDED
    missing = "slirp4netns is not installed (Debian package slirp4netns)"
    monkeypatch.setattr(sandbox_module, "usernet_unavailable_reason", lambda: missing)
    failed = run(executor, {"python_code": "print('ran')"})
    assert failed.state.status is RunStatus.FAILED
    assert failed.state.reason is FailureReason.BACKEND_ERROR
    assert missing in failed.state.message
    assert missing in failed.text
    assert "ran" not in failed.text.split()
    offline = run(executor, {"python_code": "print('ran')", "network": False})
    assert offline.state.status is RunStatus.SUCCEEDED, offline.text


@bwrap_only
def test_a_failing_helper_takes_the_run_down(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_tool: Callable[..., str] = tool
    monkeypatch.setattr(
        usernet,
        "tool",
        lambda name, *rest: "/usr/bin/false" if name == "slirp4netns" else real_tool(name, *rest),
    )
    token = uuid.uuid4().hex
    with pytest.raises(SandboxUnavailableError, match="private network failed: slirp4netns"):
        Sandbox.start(_sleeper(workdir, token), SandboxMode.BWRAP, 1)
    assert helper_processes() == []
    assert not wait_until_gone(token)


@bwrap_only
def test_bwrap_failing_after_its_report_keeps_its_own_status(
    run_python: RunPython, host_dir: Path
) -> None:
    # bwrap reports its child on --info-fd before the child mounts anything; a mount that
    # fails then must read as bwrap's failure, not as a broken network.
    run = run_python("print('ran')", mounts=[Mount(host_dir, "/usr/pyjobs-cannot-mkdir")])
    assert run.result.exit_code == 1
    assert "Can't mkdir" in run.output
    assert "ran" not in run.output.split()
    assert helper_processes() == []


def test_usernet_reports_missing_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    probe = usernet.usernet_unavailable_reason.__wrapped__
    if not usernet.TUN.exists():
        pytest.skip("no /dev/net/tun here")
    monkeypatch.setattr(shutil, "which", lambda name, path=None: None)
    reason = probe()
    assert reason is not None
    assert "is not installed" in reason
    monkeypatch.setattr(shutil, "which", lambda name, path=None: f"/usr/bin/{name}")
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: True)
    assert probe() is None


FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
           |-- 127.0.0.1
              /32 host LOCAL
     +-- 192.0.2.0/24 2 0 2
           |-- 192.0.2.0
              /24 link UNICAST
           |-- 192.0.2.7
              /32 host LOCAL
        |-- 192.0.2.255
           /32 link BROADCAST
Local:
  +-- 0.0.0.0/0 3 0 5
           |-- 192.0.2.7
              /32 host LOCAL
           |-- 198.51.100.1
              /32 host LOCAL
"""


def test_host_addresses_are_the_local_non_loopback_ones() -> None:
    assert host_addresses(FIB_TRIE) == ["192.0.2.7", "198.51.100.1"]
    assert host_addresses("") == []


def test_routes_cut_off_the_host_and_metadata_but_not_dns() -> None:
    commands = route_commands(["192.0.2.7"]).decode().splitlines()
    assert "route add unreachable 192.0.2.7/32" in commands
    assert "route add unreachable 169.254.0.0/16" in commands
    dns_rules = [c for c in commands if "10.0.2.3" in c]
    assert [c.split()[-1] for c in dns_rules] == ["main", "main", "unreachable"]
    assert "dport 53" in dns_rules[0]
    assert "dport 53" in dns_rules[1]


def test_resolv_conf_names_the_forwarder_and_keeps_search_domains(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 192.0.2.53\nsearch corp.example\noptions ndots:2\n")
    assert resolv_conf(host) == b"nameserver 10.0.2.3\nsearch corp.example\n"
    assert resolv_conf(tmp_path / "missing") == b"nameserver 10.0.2.3\n"
