"""A local executor for tests: real sandbox, one env and uv cache shared by the session."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pyjobs.executors.base import RunRequest, RunState
from pyjobs.executors.local import LocalExecutor
from pyjobs.manifests import ManifestOptions, build_manifest
from pyjobs.spec import TaskSpec


@dataclass
class Finished:
    """A run that ended: its final state and everything it printed."""

    state: RunState
    log: bytes

    @property
    def text(self) -> str:
        """The log decoded leniently (tests look for ASCII markers)."""
        return self.log.decode("utf-8", "replace")


def submit(executor: LocalExecutor, request: dict[str, Any]) -> RunState:
    """Validate a request, build its workflow with Hera and submit it."""
    spec = TaskSpec.parse(request)
    manifest = build_manifest(spec, ManifestOptions())
    return executor.submit(RunRequest(uuid.uuid4().hex, spec, manifest))


def run(executor: LocalExecutor, request: dict[str, Any], timeout: float = 300) -> Finished:
    """Submit a request and wait for it to end."""
    state = submit(executor, request)
    final = executor.wait(state.run_id, timeout)
    assert final.status.is_final, f"run did not end within {timeout} s: {final}"
    return Finished(final, b"".join(executor.logs(state.run_id)))
