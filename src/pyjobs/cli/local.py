"""Commands that work on this machine without a server: `run` and `render`.

The executor and the manifest builders are imported by the commands that use them: Hera
takes about a second to import, which the other commands (`status`, `list`, …) need not pay.
"""

from __future__ import annotations

import threading
import time
import uuid
from contextlib import closing
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import click

from pyjobs.cli.options import fail, load_settings, spec_from_options, task_options
from pyjobs.console import OutputPane, exit_status, stdout_pane, summary
from pyjobs.errors import PyjobsError
from pyjobs.spec import TaskSpec

if TYPE_CHECKING:
    from pyjobs.executors.local import LocalExecutor

# The values of pyjobs.manifests.Builder (tests/test_cli.py runs both).
_BUILDERS = ("hera", "template")


@click.command()
@task_options
@click.option(
    "--builder",
    type=click.Choice(_BUILDERS),
    help="Manifest builder (default: hera, or template when USE_HERA_SDK=false).",
)
def render(builder: str | None, **task: Any) -> None:
    """Print the Argo Workflow YAML a task would run as."""
    from pyjobs.manifests import Builder, ManifestOptions, build_manifest, render_yaml  # noqa: PLC0415

    settings = load_settings()
    spec = spec_from_options(**task)
    chosen = Builder(builder) if builder else Builder.from_flag(settings.use_hera_sdk)
    manifest = build_manifest(spec, ManifestOptions.from_settings(settings), builder=chosen)
    click.echo(render_yaml(manifest), nl=False)


@click.command()
@task_options
def run(**task: Any) -> None:
    """Run a task once on this machine, in the sandbox, with its output streamed live."""
    from pyjobs.executors.base import RunRequest  # noqa: PLC0415
    from pyjobs.executors.local import LocalExecutor  # noqa: PLC0415
    from pyjobs.executors.localconfig import LocalRunConfig  # noqa: PLC0415
    from pyjobs.manifests import WorkflowFactory  # noqa: PLC0415

    settings = load_settings()
    spec = spec_from_options(**task)
    manifest = WorkflowFactory.from_settings(settings).build(spec)
    config = replace(LocalRunConfig.from_settings(settings), max_concurrent=1)
    try:
        executor = LocalExecutor(config)
    except PyjobsError as error:
        fail(str(error))
    with closing(executor):
        state = executor.submit(RunRequest(uuid.uuid4().hex, spec, manifest))
        raise SystemExit(_follow(executor, state.run_id, spec))


def _follow(executor: LocalExecutor, run_id: str, spec: TaskSpec) -> int:
    packages = ", ".join(spec.dependencies) or ("requirements" if spec.requirements_file else "")
    pane = stdout_pane(f"setting up the environment{f' ({packages})' if packages else ''}")
    watcher = threading.Thread(target=_watch_setup, args=(executor, run_id, pane), daemon=True)
    watcher.start()
    try:
        for chunk in executor.logs(run_id, follow=True):
            pane.write(chunk)
    except KeyboardInterrupt:
        executor.cancel(run_id)
    final = executor.wait(run_id)
    pane.setup_done()
    click.echo(summary(final), err=True)
    return exit_status(final)


def _watch_setup(executor: LocalExecutor, run_id: str, pane: OutputPane) -> None:
    while True:
        state = executor.state(run_id)
        if state.env_cache_hit is not None or state.status.is_final:
            pane.setup_done()
            return
        time.sleep(0.05)
