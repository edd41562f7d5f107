"""Warm env cache: a run through the local executor against the same venv's python on the host.

Also times `pyjobs run` as a subprocess (what a user at a shell waits for) and the import of
`pyjobs.cli` alone, and breaks the executor's time down: the bare sandbox, and the venv's
python in the sandbox without the job script.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.options import Options
from bench.results import Result, Samples, Target, paired_difference
from bench.timing import Measurement, progress, round_robin, timed_run
from bench.workspace import HOST_PATH, Workspace, fresh_id, request_for
from pyjobs.executors.base import RunRequest, RunState
from pyjobs.executors.envcache import EnvCache
from pyjobs.executors.jobrun import ENV_MOUNT, SCRIPT_MOUNT, env_key
from pyjobs.executors.local import LocalExecutor
from pyjobs.executors.localconfig import LocalRunConfig
from pyjobs.executors.sandbox import Mount, Sandbox, SandboxConfig
from pyjobs.executors.workdir import remove_workdir
from pyjobs.manifests.reading import ScriptTemplate
from pyjobs.status import RunStatus

NAME = "local-warm"
TARGET = Target(factor=1.3, slack_seconds=0.1)


@dataclass(frozen=True)
class Plan:
    """What to run and how often."""

    dependency: str
    code: str
    expected: str
    rounds: int
    cli_rounds: int


FULL = Plan("numpy", "import numpy; print(numpy.arange(10).sum())", "45", 20, 7)
SMOKE = Plan("six", "import six; print(six.__name__)", "six", 1, 1)


def run(options: Options) -> list[Result]:
    """Measure a warm-cache run, the CLI around it, and the CLI's import cost."""
    plan = SMOKE if options.smoke else FULL
    workspace = options.workspace
    config = workspace.local_config(NAME)
    request = request_for(plan.code, [plan.dependency])
    with closing(LocalExecutor(config)) as executor:
        progress(f"{NAME}: warm-up run (builds the {plan.dependency} environment)")
        _submit_and_check(executor, request, plan.expected)
        with _published_env(config, request) as env:
            results = [
                _executor_run(
                    executor, request, env, workspace=workspace, plan=plan, options=options
                ),
                _cli_run(config, env, workspace, plan, options),
            ]
    results.append(_cli_import(options))
    return results


def _executor_run(
    executor: LocalExecutor,
    request: RunRequest,
    env: Path,
    *,
    workspace: Workspace,
    plan: Plan,
    options: Options,
) -> Result:
    states: list[RunState] = []

    def candidate() -> float:
        started = time.perf_counter()
        state = _submit_and_check(executor, request, plan.expected)
        seconds = time.perf_counter() - started
        states.append(state)
        return seconds

    plain = _PlainSandbox(executor.config, workspace, request, env)
    measured = round_robin(
        [
            ("executor", candidate),
            ("host", _host_python(env, plan, workspace)),
            ("bwrap true", lambda: plain.run(["/usr/bin/true"], "")),
            (
                "bwrap python",
                lambda: plain.run(["/env/bin/python", "-c", plan.code], plan.expected),
            ),
            ("bwrap script", lambda: plain.run(plain.script_argv, plan.expected)),
        ],
        options.rounds(plan.rounds),
        label=NAME,
    )
    ours = Samples("submit + wait, in-process", measured["executor"])
    host = Samples("<env>/bin/python -c CODE on the host", measured["host"])
    setup = Samples("  of which env lookup (state.setup_seconds)", _seconds(states, "setup"))
    step = Samples("  of which the sandboxed step (state.run_seconds)", _seconds(states, "run"))
    bare = Samples("breakdown: plain sandbox running /usr/bin/true", measured["bwrap true"])
    python = Samples(
        "breakdown: plain sandbox running /env/bin/python -c CODE", measured["bwrap python"]
    )
    script = Samples("breakdown: plain sandbox running the job script", measured["bwrap script"])
    split = {
        "executor outside the sandbox": paired_difference(ours, step),
        "executor's sandbox step over a plain one": paired_difference(step, script),
        "job script (bash, mktemp, base64, bootstrap)": paired_difference(script, python),
        "sandbox (bwrap, setpriv, prlimit, cgroup)": paired_difference(python, host),
    }
    return Result(
        name=f"warm-cache run ({plan.dependency}): LocalExecutor.submit → end of run",
        candidate=ours,
        baseline=host,
        target=TARGET,
        context=(setup, step, bare, python, script),
        notes=(
            "overhead over the baseline (medians of per-round differences) ≈ "
            + ", ".join(f"{what} {seconds * 1000:.0f} ms" for what, seconds in split.items()),
            "a plain sandbox: Sandbox.start + a blocking wait, output to a file, /env mounted",
            workspace.sandbox.note,
        ),
    )


def _seconds(states: list[RunState], which: str) -> tuple[float, ...]:
    """The executor's own timings of the measured runs: setup_seconds or run_seconds."""
    values = (s.setup_seconds if which == "setup" else s.run_seconds for s in states)
    return tuple(value or 0.0 for value in values)


def _cli_run(
    config: LocalRunConfig, env: Path, workspace: Workspace, plan: Plan, options: Options
) -> Result:
    argv = [str(workspace.pyjobs_command()), "run", "-c", plan.code, "--with", plan.dependency]
    variables = {
        **os.environ,
        # The in-process executor's home and sandbox root: its env cache is warm.
        "PYJOBS_HOME": str(config.home),
        "PYJOBS_SANDBOX_ROOT": str(config.sandbox_root),
        "PYJOBS_SANDBOX": workspace.sandbox.mode.value,
    }

    def candidate() -> float:
        seconds, done = timed_run(argv, variables)
        if done.stdout.decode() != f"{plan.expected}\n" or b"env cache hit" not in done.stderr:
            raise RuntimeError(f"pyjobs run did not hit the env cache: {done.stderr!r}")
        return seconds

    measured = round_robin(
        [("pyjobs run", candidate), ("host", _host_python(env, plan, workspace))],
        options.rounds(plan.cli_rounds),
        label="pyjobs run",
    )
    return Result(
        name=f"pyjobs run -c CODE --with {plan.dependency} (CLI subprocess, warm cache)",
        candidate=Samples("pyjobs run, subprocess", measured["pyjobs run"]),
        baseline=Samples("<env>/bin/python -c CODE on the host", measured["host"]),
        notes=("context only: the CLI's own start-up is the next result",),
    )


def _cli_import(options: Options) -> Result:
    python = sys.executable

    def importing() -> float:
        return timed_run([python, "-c", "import pyjobs.cli"], {"PATH": HOST_PATH})[0]

    def bare() -> float:
        return timed_run([python, "-c", "pass"], {"PATH": HOST_PATH})[0]

    measured = round_robin(
        [("import", importing), ("pass", bare)], options.rounds(7), label="import pyjobs.cli"
    )
    cost = Samples("x", measured["import"]).median - Samples("x", measured["pass"]).median
    return Result(
        name="import pyjobs.cli (the CLI's start-up before it does anything)",
        candidate=Samples("python -c 'import pyjobs.cli'", measured["import"]),
        baseline=Samples("python -c pass", measured["pass"]),
        notes=(f"import cost ≈ {cost * 1000:.0f} ms; biggest: {_heaviest_imports(python)}",),
    )


def _heaviest_imports(python: str, count: int = 4) -> str:
    """The third-party packages `import pyjobs.cli` spends most on (one -X importtime run)."""
    argv = [python, "-X", "importtime", "-c", "import pyjobs.cli"]
    _, done = timed_run(argv, {"PATH": HOST_PATH})
    totals: dict[str, int] = {}
    for line in done.stderr.decode().splitlines():
        match = re.fullmatch(r"import time:\s+\d+ \|\s+(\d+) \| *(\S+)", line)
        if match is None:
            continue
        top = match.group(2).split(".")[0]
        # A submodule's cumulative time is part of its parent's only when the parent
        # imported it; the largest entry per package is the cost of importing it at all.
        if top != "pyjobs":
            totals[top] = max(totals.get(top, 0), int(match.group(1)))
    heaviest = sorted(totals.items(), key=lambda item: -item[1])[:count]
    return ", ".join(f"{name} {micros / 1e6:.2f} s" for name, micros in heaviest)


def _host_python(env: Path, plan: Plan, workspace: Workspace) -> Measurement:
    argv = [str(env / "bin" / "python"), "-c", plan.code]
    variables = {"PATH": HOST_PATH, "LANG": "C.UTF-8", "HOME": str(workspace.root)}

    def measure() -> float:
        seconds, done = timed_run(argv, variables)
        if done.stdout.decode() != f"{plan.expected}\n":
            raise RuntimeError(f"unexpected output on the host: {done.stdout!r}")
        return seconds

    return measure


def _submit_and_check(executor: LocalExecutor, request: RunRequest, expected: str) -> RunState:
    run = fresh_id(request)
    executor.submit(run)
    state = executor.wait(run.run_id)
    output = b"".join(executor.logs(run.run_id)).decode(errors="replace")
    if state.status is not RunStatus.SUCCEEDED or not output.endswith(f"{expected}\n"):
        raise RuntimeError(f"run {state.status}: {state.message}\n{output[-2000:]}")
    return state


@contextmanager
def _published_env(config: LocalRunConfig, request: RunRequest) -> Iterator[Path]:
    """The cached env the executor uses for `request`, held so nothing evicts it meanwhile."""

    def no_build(staging: Path) -> None:
        raise RuntimeError("the env cache should be warm after the warm-up run")

    cache = EnvCache(config.envs_dir, config.env_cache_max_bytes)
    with cache.acquire(env_key(request, config), no_build) as handle:
        yield handle.path


class _PlainSandbox:
    """Programs run in the sandbox as a run step does, without the executor around them."""

    def __init__(
        self, config: LocalRunConfig, workspace: Workspace, request: RunRequest, env: Path
    ) -> None:
        self.config = config
        self.workspace = workspace
        self.env = env
        template = ScriptTemplate.from_manifest(request.manifest, "python-job-bench")
        self.script = workspace.directory("script") / "script"
        self.script.write_text(template.source, encoding="utf-8")
        self.script.chmod(0o444)
        self.script_argv = [*template.command, SCRIPT_MOUNT]
        # What the executor gives a run step, less its CA variables (none on a bare host).
        self.variables = {
            **template.env,
            "PYJOBS_VENV": ENV_MOUNT,
            "PATH": HOST_PATH,
            "LANG": "C.UTF-8",
            "HOME": "/tmp",  # noqa: S108 - the sandbox's own /tmp
            "TMPDIR": "/tmp",  # noqa: S108
        }

    def run(self, argv: list[str], expected: str) -> float:
        """Seconds from Sandbox.start to the end of a blocking wait; checks the output."""
        workdir = self.workspace.directory("work")
        log = self.workspace.root / f"{workdir.name}.log"
        sandbox_config = SandboxConfig(
            argv=argv,
            env=self.variables,
            workdir=workdir,
            mounts=[Mount(self.env, ENV_MOUNT), Mount(self.script, SCRIPT_MOUNT)],
            max_processes=self.config.max_processes,
            max_file_size_mb=self.config.max_file_size_mb,
            max_open_files=self.config.max_open_files,
            tmp_size_mb=self.config.tmp_size_mb,
        )
        with log.open("wb") as out:
            started = time.perf_counter()
            with Sandbox.start(sandbox_config, self.workspace.sandbox.mode, out.fileno()) as box:
                result = box.wait()
            seconds = time.perf_counter() - started
        output = log.read_text(errors="replace")
        log.unlink()
        remove_workdir(workdir)
        if result.exit_code != 0 or output != (f"{expected}\n" if expected else ""):
            raise RuntimeError(f"sandboxed {argv[0]} failed ({result}): {output[-2000:]}")
        return seconds
