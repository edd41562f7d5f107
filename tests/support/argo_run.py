"""Run a rendered workflow's script the way Argo runs a script template, on this host.

Argo writes the template's `source` to a file and starts the template's `command` with
that file as its last argument, the template's `env` (with `{{workflow.name}}` filled in)
and its `workingDir` as the current directory. Here the working directory and /tmp are
directories of the test, and when the tests run as root the script runs as an
unprivileged uid, so only those two places are writable — as in a hardened pod.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pyjobs.executors.hostenv import network_environment
from tests.support.host import SANDBOX_UID, is_root, make_world_dir

WORKFLOW_NAME = "python-job-test1"


@dataclass(frozen=True)
class ArgoLikeRun:
    """What a script run printed and how it ended."""

    exit_code: int
    output: str


def script_template(rendered_yaml: str) -> dict[str, Any]:
    """The `script` of the workflow's only template, read back from the YAML text."""
    manifest = yaml.safe_load(rendered_yaml)
    (template,) = manifest["spec"]["templates"]
    script: dict[str, Any] = template["script"]
    return script


def run_like_argo(
    rendered_yaml: str,
    root: Path,
    path_dirs: list[Path],
    extra_env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> ArgoLikeRun:
    """Run the script of a rendered workflow under `root` (staging, workdir and tmp)."""
    script = script_template(rendered_yaml)
    staging = make_world_dir(root / "staging")
    workdir = make_world_dir(root / "work", owner=SANDBOX_UID)
    tmp = make_world_dir(root / "tmp", owner=SANDBOX_UID)
    source = staging / "script"
    source.write_text(script["source"], encoding="utf-8")
    source.chmod(0o644)
    env = {
        item["name"]: item["value"].replace("{{workflow.name}}", WORKFLOW_NAME)
        for item in script["env"]
    }
    assert not any("$(" in value for value in env.values()), "no Kubernetes $(VAR) expansion"
    env |= {
        "PATH": os.pathsep.join([*map(str, path_dirs), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": "/nonexistent",  # a uid with no home, as in a pod with runAsUser
        "TMPDIR": str(tmp),
        **network_environment(os.environ),
        **(extra_env or {}),
    }
    drop = ["setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups"]
    argv = [*(drop if is_root() else []), *script["command"], str(source)]
    result = subprocess.run(
        argv,
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )
    return ArgoLikeRun(result.returncode, result.stdout.decode("utf-8", "replace"))
