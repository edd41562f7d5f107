"""One local run, start to end: get its environment, run its script in the sandbox."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from pyjobs.errors import SandboxUnavailableError
from pyjobs.executors.base import RunRequest
from pyjobs.executors.envcache import EnvCache, EnvKey
from pyjobs.executors.hostenv import CA_VARIABLES, network_environment
from pyjobs.executors.jobsteps import SandboxSteps, StepKilled
from pyjobs.executors.localconfig import LocalRunConfig
from pyjobs.executors.outcome import RunOutcome
from pyjobs.executors.runlog import RunLog
from pyjobs.executors.sandbox import SANDBOX_UID, SandboxMode, resolve_mode
from pyjobs.executors.sandbox_config import Mount, SandboxConfig, SandboxResult
from pyjobs.executors.workdir import remove_workdir
from pyjobs.manifests.reading import ScriptTemplate
from pyjobs.requirements import render_requirements_file
from pyjobs.status import FailureReason, RunStatus

ENV_MOUNT = "/env"
SCRIPT_MOUNT = "/job/script"
UV_MOUNT = "/opt/pyjobs/bin/uv"
UV_CACHE_MOUNT = "/uv-cache"
_BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


class _SetupFailed(Exception):
    def __init__(self, outcome: RunOutcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


def env_key(request: RunRequest, config: LocalRunConfig) -> EnvKey:
    """The cache key of a task's environment: interpreter, platform and packages."""
    spec = request.spec
    return EnvKey(
        python_version=config.interpreter.version,
        requirements=spec.dependencies,
        requirements_text=render_requirements_file(spec.requirement_lines),
        platform=config.platform,
    )


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class JobRunner:
    """Runs one request; `kill` from any thread stops whichever step is in progress."""

    SetupListener = Callable[[bool, float], None]

    def __init__(
        self, request: RunRequest, workflow_name: str, log: RunLog, config: LocalRunConfig
    ) -> None:
        self.request = request
        self.log = log
        self.config = config
        self.template = ScriptTemplate.from_manifest(request.manifest, workflow_name)
        self._mode = resolve_mode(config.sandbox)
        self._steps = SandboxSteps(self._mode, log)
        self._deadline = 0.0
        self._job_dir = config.jobs_dir / request.run_id

    def kill(self) -> None:
        """Stop the run now: kill the sandbox in progress, and start no other."""
        self._steps.kill()

    def run(self, envs: EnvCache, on_setup_done: SetupListener) -> RunOutcome:
        """Set up (or reuse) the environment, then run the code.

        The run's own failures come back as an outcome; only executor bugs raise.
        """
        spec = self.request.spec
        self._deadline = time.monotonic() + spec.timeout_seconds
        if self._mode is SandboxMode.NONE:
            self.log.note(
                "WARNING: no sandbox (bubblewrap is missing or PYJOBS_SANDBOX=none): only "
                "resource limits apply; the code can see this machine's files and network"
            )
        self._job_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self._job_dir, 0o711)  # noqa: S103 - the sandbox uid must traverse, not list
        script = self._job_dir / "script"
        script.write_text(self.template.source, encoding="utf-8")
        script.chmod(0o444)
        started = time.monotonic()
        try:
            with envs.acquire(env_key(self.request, self.config), self._build) as env:
                on_setup_done(env.hit, time.monotonic() - started)
                if self._steps.killed:
                    return RunOutcome.cancelled()
                return self._run_code(env.path)
        except _SetupFailed as failure:
            return failure.outcome
        finally:
            for leftover in (self._job_dir / "work", self._job_dir / "setup"):
                if leftover.exists() or leftover.is_symlink():
                    remove_workdir(leftover)
            script.unlink(missing_ok=True)
            # Empty by now; left behind, one directory per run would pile up for ever.
            with contextlib.suppress(OSError):
                self._job_dir.rmdir()

    def _build(self, staging: Path) -> None:
        """Build the environment into the cache's staging directory (network on)."""
        if os.geteuid() == 0:
            os.chown(staging, SANDBOX_UID, SANDBOX_UID)
        self.config.uv_cache_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(self.config.uv_cache_dir, SANDBOX_UID, SANDBOX_UID)
        self.log.note("building the environment (first run with these packages)")
        uv = self.config.uv_path.resolve()
        env = {
            **self.template.env,
            **network_environment(os.environ),
            "PYJOBS_SETUP_ONLY": "1",
            "PYJOBS_VENV": self._visible(staging, ENV_MOUNT),
            "UV_CACHE_DIR": self._visible(self.config.uv_cache_dir, UV_CACHE_MOUNT),
            "UV_PYTHON": str(self.config.interpreter.path),
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_NO_PROGRESS": "1",
            # Hard links cannot cross the two bind mounts (EXDEV); copying is also what
            # keeps a published environment from sharing inodes with the download cache.
            "UV_LINK_MODE": "copy",
            "PATH": f"{Path(self._visible(uv, UV_MOUNT)).parent}:{_BASE_PATH}",
        }
        mounts = [
            Mount(staging, ENV_MOUNT, writable=True),
            Mount(self.config.uv_cache_dir, UV_CACHE_MOUNT, writable=True),
            Mount(uv, UV_MOUNT),
            *self._common_mounts(env),
        ]
        result, timed_out = self._sandboxed(
            self._sandbox_config(
                env, mounts, "setup", network=True, memory_mb=self.config.build_memory_mb
            )
        )
        if self._steps.killed:
            raise _SetupFailed(RunOutcome.cancelled())
        if timed_out:
            raise _SetupFailed(self._timeout_outcome("while installing the dependencies"))
        if result.exit_code != 0:
            how = (
                f"exit status {result.exit_code}"
                if result.signal is None
                else _signal_name(result.signal)
            )
            if result.oom_killed:
                how = f"the {self.config.build_memory_mb} MiB build memory limit"
            raise _SetupFailed(
                RunOutcome.failed(
                    FailureReason.DEPENDENCY_INSTALL,
                    f"the environment could not be built ({how}); uv's error is in the log",
                    exit_code=result.exit_code,
                    limits=result.enforced,
                )
            )
        _own_tree(staging)

    def _run_code(self, env_path: Path) -> RunOutcome:
        spec = self.request.spec
        env = {
            **self.template.env,
            **(self._ca_environment() if spec.network else {}),
            "PYJOBS_VENV": self._visible(env_path, ENV_MOUNT),
            "PATH": _BASE_PATH,
            "LANG": "C.UTF-8",
        }
        mounts = [Mount(env_path, ENV_MOUNT), *self._common_mounts(env)]
        # Only the code's own step gets the task's CPU limit: the build is pyjobs' work.
        config = self._sandbox_config(
            env, mounts, "work", network=spec.network, memory_mb=spec.memory_mb, cpu=spec.cpu
        )
        started = time.monotonic()
        result, timed_out = self._sandboxed(config)
        seconds = time.monotonic() - started
        details = {
            "exit_code": result.exit_code,
            "signal": result.signal,
            "run_seconds": seconds,
            "limits": result.enforced,
        }
        if self._steps.killed:
            return RunOutcome.cancelled()
        if timed_out:
            return replace(
                self._timeout_outcome("while the code ran"),
                run_seconds=seconds,
                limits=result.enforced,
            )
        if result.oom_killed:
            return RunOutcome.failed(
                FailureReason.MEMORY,
                f"killed by the {spec.memory_mb} MiB memory limit",
                **details,
            )
        if result.exit_code == 0:
            return RunOutcome(RunStatus.SUCCEEDED, **details)  # type: ignore[arg-type]
        if result.signal is not None:
            return RunOutcome.failed(
                FailureReason.SIGNAL, f"killed by {_signal_name(result.signal)}", **details
            )
        return RunOutcome.failed(
            FailureReason.EXIT_CODE, f"exited with status {result.exit_code}", **details
        )

    def _visible(self, host: Path, target: str) -> str:
        """The path the program uses for `host`: its mount point (or itself in mode none)."""
        return str(host) if self._mode is SandboxMode.NONE else target

    def _timeout_outcome(self, when: str) -> RunOutcome:
        seconds = self.request.spec.timeout_seconds
        return RunOutcome.failed(FailureReason.TIMEOUT, f"timed out after {seconds} s {when}")

    def _ca_environment(self) -> dict[str, str]:
        hostenv = network_environment(os.environ)
        return {name: value for name, value in hostenv.items() if name in CA_VARIABLES}

    def _common_mounts(self, env: Mapping[str, str]) -> list[Mount]:
        mounts = [Mount(self._job_dir / "script", SCRIPT_MOUNT)]
        prefix = self.config.interpreter.base_prefix
        if not prefix.is_relative_to("/usr"):
            mounts.append(Mount(prefix, str(prefix)))
        for value in env.values():
            # CA bundles outside /etc/ssl (which the sandbox shows) are bound in read-only.
            path = Path(value)
            if (
                path.is_absolute()
                and path.exists()
                and not path.is_relative_to("/etc/ssl")
                and not path.is_relative_to("/usr")
                and value not in (ENV_MOUNT,)
            ):
                if any(m.target == value for m in mounts):
                    continue
                mounts.append(Mount(path, value))
        return mounts

    def _sandbox_config(
        self,
        env: Mapping[str, str],
        mounts: list[Mount],
        workdir_name: str,
        *,
        network: bool,
        memory_mb: int | None,
        cpu: float | None = None,
    ) -> SandboxConfig:
        workdir = self._job_dir / workdir_name
        workdir.mkdir(mode=0o700)
        private_tmp = self._visible(workdir, "/tmp")  # noqa: S108 - the sandbox's own tmpfs
        return SandboxConfig(
            argv=[*self.template.command, self._visible(self._job_dir / "script", SCRIPT_MOUNT)],
            # The sandbox's own /tmp; without a sandbox, the workdir (removed after the run)
            # rather than the host's /tmp, where the script's files would pile up.
            env={**env, "HOME": private_tmp, "TMPDIR": private_tmp},
            workdir=workdir,
            mounts=mounts if self._mode is SandboxMode.BWRAP else (),
            network=network,
            memory_mb=memory_mb,
            cpu_cores=cpu,
            max_processes=self.config.max_processes,
            max_file_size_mb=self.config.max_file_size_mb,
            max_open_files=self.config.max_open_files,
            tmp_size_mb=self.config.tmp_size_mb,
        )

    def _sandboxed(self, config: SandboxConfig) -> tuple[SandboxResult, bool]:
        """Run one step; returns its result and whether the deadline killed it."""
        try:
            return self._steps.run(config, self._deadline)
        except StepKilled:
            raise _SetupFailed(RunOutcome.cancelled()) from None
        except SandboxUnavailableError as error:
            # E.g. a network-on step without slirp4netns: never run it less isolated.
            raise _SetupFailed(RunOutcome.failed(FailureReason.BACKEND_ERROR, str(error))) from None


def _own_tree(root: Path) -> None:
    """Give a built environment to the server's user, so no run's uid owns what it uses."""
    if os.geteuid() != 0:
        return
    uid, gid = os.geteuid(), os.getegid()
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            os.lchown(os.path.join(directory, name), uid, gid)
    os.lchown(root, uid, gid)
