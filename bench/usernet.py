"""What the private network of network-on runs costs: start-up time and download speed.

    python -m bench.usernet [--runs 20] [--install numpy]

Start-up: the median wall time of ``python3 -c pass`` through ``Sandbox.start``/``wait``
with network off (loopback only, no helper) and on (slirp4netns). With ``--install``, also
the time ``uv pip install --no-cache PACKAGE`` takes into a fresh venv on the host and
inside a network-on sandbox (it talks to the configured package index).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from uv import find_uv_bin

from pyjobs.executors.hostenv import network_environment
from pyjobs.executors.sandbox import (
    Mount,
    Sandbox,
    SandboxConfig,
    SandboxMode,
    bwrap_unavailable_reason,
)
from pyjobs.executors.sandbox_chain import SANDBOX_UID

PYTHON = "/usr/bin/python3"


def _run(config: SandboxConfig) -> float:
    started = time.perf_counter()
    with Sandbox.start(config, SandboxMode.BWRAP, 2) as box:
        result = box.wait(timeout=600)
    assert result.exit_code == 0, result
    return time.perf_counter() - started


def startup(workdir: Path, runs: int) -> None:
    for network in (False, True):
        argv = [PYTHON, "-c", "pass"]
        config = SandboxConfig(argv=argv, env={}, workdir=workdir, network=network)
        _run(config)  # warm the page cache and the probes
        times = sorted(_run(config) for _ in range(runs))
        print(
            f"network={network!s:5}  median {statistics.median(times) * 1000:6.1f} ms"
            f"  min {times[0] * 1000:6.1f}  max {times[-1] * 1000:6.1f}  ({runs} runs)"
        )


def install(root: Path, package: str) -> None:
    uv = Path(find_uv_bin()).resolve()
    script = (
        f'"$UV" venv -q --python {PYTHON} "$DEST" && '
        f'exec "$UV" pip install --no-cache --python "$DEST/bin/python" {package}'
    )
    host = root / "host"
    # What the environment build gets too: CA bundles, proxies, index settings.
    network = network_environment(os.environ)
    env = {**network, "PATH": "/usr/bin:/bin", "HOME": str(root), "UV": str(uv)}
    env["DEST"] = str(host / "venv")
    host.mkdir()
    started = time.perf_counter()
    subprocess.run(["/bin/sh", "-c", script], env=env, check=True)
    print(f"host:    {time.perf_counter() - started:6.2f} s")
    workdir = root / "sandboxed"
    workdir.mkdir()
    if os.geteuid() == 0:
        os.chown(workdir, SANDBOX_UID, SANDBOX_UID)
    home = "/tmp"  # noqa: S108 - the sandbox's own private /tmp
    sandbox_env = {"PATH": "/usr/bin:/bin", "HOME": home, "UV": "/opt/uv", "DEST": "/work/venv"}
    config = SandboxConfig(
        argv=["/bin/sh", "-c", script],
        env={**network, **sandbox_env},
        workdir=workdir,
        mounts=[Mount(uv, "/opt/uv")],
        tmp_size_mb=2048,
    )
    print(f"sandbox: {_run(config):6.2f} s (network on, private)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--install", metavar="PACKAGE")
    args = parser.parse_args()
    problem = bwrap_unavailable_reason()
    if problem is not None:
        raise SystemExit(problem)
    root = Path(tempfile.mkdtemp(prefix="pyjobs-bench-"))
    try:
        root.chmod(0o755)
        (root / "work").mkdir()
        if os.geteuid() == 0:
            os.chown(root / "work", SANDBOX_UID, SANDBOX_UID)
        startup(root / "work", args.runs)
        if args.install:
            install(root, args.install)
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
