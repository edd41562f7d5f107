"""The original POC's Python API, working for real: build with Hera, run on the backend."""

from __future__ import annotations

import atexit
import threading
import time
import uuid
from collections.abc import Iterator

from pyjobs.config import Backend, Settings
from pyjobs.errors import BackendUnavailableError, PyjobsError, RunNotFoundError
from pyjobs.executors.base import Executor, RunRequest, RunState
from pyjobs.manifests.hera import build_workflow
from pyjobs.manifests.options import ManifestOptions
from pyjobs.spec import TaskSpec

_lock = threading.Lock()
_executor: Executor | None = None
_runs_by_workflow: dict[str, str] = {}
# How long `create_workflow_with_hera` waits for Argo to create (and name) the workflow.
NAME_WAIT_SECONDS = 60.0


def _make_executor(settings: Settings) -> Executor:
    # Imported on demand: each backend drags in what only it needs.
    if settings.backend is Backend.LOCAL:
        from pyjobs.executors.local import LocalExecutor  # noqa: PLC0415
        from pyjobs.executors.localconfig import LocalRunConfig  # noqa: PLC0415

        return LocalExecutor(LocalRunConfig.from_settings(settings))
    from pyjobs.executors.argo import ArgoExecutor  # noqa: PLC0415
    from pyjobs.executors.argo_config import ArgoConfig  # noqa: PLC0415

    return ArgoExecutor(ArgoConfig.from_settings(settings))


def default_executor() -> Executor:
    """The executor of the configured backend, created on first use and then shared."""
    global _executor  # noqa: PLW0603 - one executor per process, like a connection pool
    with _lock:
        if _executor is None:
            _executor = _make_executor(Settings())
        return _executor


def _named(executor: Executor, state: RunState) -> RunState:
    """Wait until the backend has named the workflow (Argo does so when it is created)."""
    deadline = time.monotonic() + NAME_WAIT_SECONDS
    while not state.workflow_name:
        if state.status.is_final:
            raise PyjobsError(f"the workflow was not created: {state.message}")
        if time.monotonic() >= deadline:
            executor.cancel(state.run_id)  # so it is not created later, unknown to anyone
            raise BackendUnavailableError(
                "Argo Server", f"no workflow within {NAME_WAIT_SECONDS:g} s: {state.message}"
            )
        time.sleep(0.05)
        state = executor.state(state.run_id)
    return state


def close_default_executor() -> None:
    """Stop the shared executor (cancelling its active runs); the next call makes a new one."""
    global _executor
    with _lock:
        executor, _executor = _executor, None
        _runs_by_workflow.clear()
    if executor is not None:
        executor.close()


atexit.register(close_default_executor)


def create_workflow_with_hera(
    python_code: str,
    dependencies: str | list[str] | None = None,
    requirements_file: str | None = None,
    namespace: str = "argo",
) -> str:
    """Build the task's workflow with Hera, hand it to the backend, return its name.

    The run goes on in the background; follow it with `workflow_state`,
    `wait_for_workflow` and `workflow_logs`. Raises `InvalidTaskError` for bad input.
    """
    spec = TaskSpec.parse(
        {
            "python_code": python_code,
            "dependencies": dependencies,
            "requirements_file": requirements_file,
            "namespace": namespace,
        }
    )
    manifest = build_workflow(spec, ManifestOptions.from_settings(Settings()))
    executor = default_executor()
    state = _named(executor, executor.submit(RunRequest(uuid.uuid4().hex, spec, manifest)))
    with _lock:
        _runs_by_workflow[state.workflow_name] = state.run_id
    return state.workflow_name


def _run_id(workflow_name: str) -> str:
    with _lock:
        run_id = _runs_by_workflow.get(workflow_name)
    if run_id is None:
        raise RunNotFoundError(workflow_name)
    return run_id


def workflow_state(workflow_name: str) -> RunState:
    """The current state of a workflow started by `create_workflow_with_hera`."""
    return default_executor().state(_run_id(workflow_name))


def wait_for_workflow(workflow_name: str, timeout: float | None = None) -> RunState:
    """Block until the workflow ends (or `timeout` passes); return its state."""
    return default_executor().wait(_run_id(workflow_name), timeout)


def workflow_logs(workflow_name: str, follow: bool = False) -> Iterator[bytes]:
    """The workflow's output (stdout and stderr interleaved)."""
    return default_executor().logs(_run_id(workflow_name), follow)
