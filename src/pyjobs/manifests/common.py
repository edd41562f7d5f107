"""The values both builders put into a workflow, computed once from the task.

The two builders share these inputs but each assembles the workflow's structure on its
own, so the test that compares their outputs checks the structure, not a shared copy.
"""

from __future__ import annotations

from pyjobs.manifests.options import ManifestOptions, RunRef
from pyjobs.script import script_environment
from pyjobs.spec import TaskSpec

GENERATE_NAME = "python-job-"
WORKFLOW_NAME_VARIABLE = "{{workflow.name}}"
UV_CACHE_MOUNT = "/uv-cache"
RESULTS_MOUNT = "/results"


def namespace(spec: TaskSpec, options: ManifestOptions) -> str:
    """The task's namespace, else the configured one."""
    return spec.namespace or options.namespace


def workflow_labels(run: RunRef | None) -> dict[str, str]:
    """Labels of the workflow: who manages it and, for a real run, its task and number."""
    labels = {"app.kubernetes.io/managed-by": "pyjobs"}
    if run is not None:
        labels |= {"pyjobs/task-id": run.task_id, "pyjobs/run-number": str(run.run_number)}
    return labels


def pod_labels(spec: TaskSpec, run: RunRef | None) -> dict[str, str]:
    """Labels of the workflow's pods; `pyjobs/network` lets a NetworkPolicy cut egress."""
    return workflow_labels(run) | {
        "app.kubernetes.io/component": "runner",
        "pyjobs/network": "on" if spec.network else "off",
    }


def job_env(spec: TaskSpec, options: ManifestOptions) -> dict[str, str]:
    """The container's environment variables, in order (the user's travel in the script)."""
    env = {"ARGO_WORKFLOW_NAME": WORKFLOW_NAME_VARIABLE, **script_environment(spec)}
    if options.uv_cache_pvc:
        env["UV_CACHE_DIR"] = UV_CACHE_MOUNT
    if options.results_pvc:
        env["PYJOBS_RESULTS_DIR"] = RESULTS_MOUNT
    return env


def resource_quantities(spec: TaskSpec) -> dict[str, str]:
    """Kubernetes quantities for the task's limits: memory in Mi, CPU in millicores."""
    quantities = {}
    if spec.cpu is not None:
        quantities["cpu"] = f"{max(1, round(spec.cpu * 1000))}m"
    if spec.memory_mb is not None:
        quantities["memory"] = f"{spec.memory_mb}Mi"
    return quantities
