"""Cold env cache, warm uv cache: the executor building an environment against plain uv.

numpy is the package: the most common dependency of the jobs pyjobs runs, one large
wheel (~16 MiB, ~1,900 files) whose copy and bytecode compilation dominate a build, so
the comparison is about the environment build itself, not about resolving many packages.
Both sides use the same uv binary, interpreter, download cache, `--compile-bytecode`
(our builds compile, so read-only runs never pay for it) and link mode copy (ours
copies: hard links cannot cross the sandbox's bind mounts).
"""

from __future__ import annotations

import os
import time
from contextlib import closing
from dataclasses import dataclass

from bench.options import Options
from bench.results import Result, Samples, Target, paired_difference
from bench.timing import progress, round_robin, timed_run
from bench.workspace import HOST_PATH, Workspace, fresh_id, give_to_sandbox, request_for
from pyjobs.executors.base import RunRequest
from pyjobs.executors.fstree import remove_tree
from pyjobs.executors.hostenv import network_environment
from pyjobs.executors.local import LocalExecutor
from pyjobs.status import RunStatus

NAME = "local-cold"
TARGET = Target(factor=1.5)


@dataclass(frozen=True)
class Plan:
    """What to install and how often."""

    dependencies: tuple[str, ...]
    rounds: int


FULL = Plan(("numpy",), 7)
SMOKE = Plan(("six",), 1)


def run(options: Options) -> list[Result]:
    """Measure building an environment from a warm uv cache, ours against plain uv."""
    plan = SMOKE if options.smoke else FULL
    workspace = options.workspace
    request = request_for("pass", list(plan.dependencies))
    setups: list[float] = []
    in_sandbox: list[float] = []

    def candidate() -> float:
        setup, ran, seconds = _executor_build(workspace, request)
        setups.append(setup)
        in_sandbox.append(ran)
        return seconds

    def baseline() -> float:
        return _uv_build(workspace, plan.dependencies)

    progress(f"{NAME}: warming the uv cache with {', '.join(plan.dependencies)}")
    candidate(), baseline()
    setups.clear()
    in_sandbox.clear()
    measured = round_robin(
        [("executor", candidate), ("uv", baseline)], options.rounds(plan.rounds), label=NAME
    )
    packages = " ".join(plan.dependencies)
    ours = Samples("LocalExecutor, empty env cache", measured["executor"])
    plain = Samples(
        f"uv venv + uv pip install --compile-bytecode --link-mode copy {packages}", measured["uv"]
    )
    build = Samples("  of which env build (state.setup_seconds)", tuple(setups))
    ran = Samples("  of which the `pass` run (state.run_seconds)", tuple(in_sandbox))
    split = {
        "env build over plain uv": paired_difference(build, plain),
        "the `pass` run": ran.median,
        "executor outside both": paired_difference(ours, build) - ran.median,
    }
    return [
        Result(
            name=f"cold env, warm uv cache ({packages}): submit → end of a `pass` run",
            candidate=ours,
            baseline=plain,
            target=TARGET,
            context=(build, ran),
            notes=(
                "overhead over the baseline (medians of per-round differences) ≈ "
                + ", ".join(f"{what} {seconds * 1000:.0f} ms" for what, seconds in split.items()),
                "each executor round: a fresh sandbox root (empty env cache), one shared uv cache",
                workspace.sandbox.note,
            ),
        )
    ]


def _executor_build(workspace: Workspace, request: RunRequest) -> tuple[float, float, float]:
    """Return (setup_seconds, run_seconds, submit → end) of one run that builds its env."""
    config = workspace.local_config(f"{NAME}-executor")
    try:
        with closing(LocalExecutor(config)) as executor:
            run = fresh_id(request)
            started = time.perf_counter()
            executor.submit(run)
            state = executor.wait(run.run_id)
            seconds = time.perf_counter() - started
            if state.status is not RunStatus.SUCCEEDED or state.env_cache_hit is not False:
                log = b"".join(executor.logs(run.run_id)).decode(errors="replace")
                raise RuntimeError(f"cold run: {state}\n{log[-2000:]}")
    finally:
        remove_tree(config.home.parent)
    return state.setup_seconds or 0.0, state.run_seconds or 0.0, seconds


def _uv_build(workspace: Workspace, dependencies: tuple[str, ...]) -> float:
    """Seconds for plain uv to make a venv with `dependencies` in a fresh directory."""
    base = workspace.directory(f"{NAME}-uv")
    venv = base / "venv"
    uv = str(workspace.uv)
    variables = {
        **network_environment(os.environ),  # the same index and proxy settings as ours get
        "PATH": HOST_PATH,
        "HOME": str(base),
        "UV_CACHE_DIR": str(workspace.uv_cache),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_PROGRESS": "1",
        # The sandboxed build sees no uv.toml of the host's either.
        "UV_NO_CONFIG": "1",
    }
    python = str(workspace.python)
    install = [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    install += ["--compile-bytecode", "--link-mode", "copy", "--", *dependencies]
    try:
        made, _ = timed_run([uv, "venv", "--quiet", "--python", python, str(venv)], variables)
        installed, _ = timed_run(install, variables)
    finally:
        remove_tree(base)
        # Root just wrote into the shared cache; the sandboxed builds must still write there.
        give_to_sandbox(workspace.uv_cache)
    return made + installed
