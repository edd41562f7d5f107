"""The workflow of a task, filled into the YAML template as data (`USE_HERA_SDK=false`)."""

from __future__ import annotations

import copy
from functools import cache
from importlib import resources
from typing import Any

import yaml

from pyjobs.manifests import common
from pyjobs.manifests.options import ManifestOptions, RunRef
from pyjobs.script import script_source
from pyjobs.spec import TaskSpec

TEMPLATE_FILE = "workflow.yaml"


@cache
def _template() -> dict[str, Any]:
    text = resources.files("pyjobs.manifests").joinpath(TEMPLATE_FILE).read_text("utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def _without(items: list[dict[str, Any]], names: set[str]) -> list[dict[str, Any]]:
    return [item for item in items if item["name"] not in names]


def build_workflow(
    spec: TaskSpec, options: ManifestOptions, run: RunRef | None = None
) -> dict[str, Any]:
    """The task's workflow as a plain dict, from the package's YAML template."""
    workflow = copy.deepcopy(_template())
    uid = options.run_as_user
    metadata, wf_spec = workflow["metadata"], workflow["spec"]
    metadata["namespace"] = common.namespace(spec, options)
    metadata["labels"] = common.workflow_labels(run)
    wf_spec["activeDeadlineSeconds"] = spec.timeout_seconds
    wf_spec["serviceAccountName"] = options.service_account
    wf_spec["executor"]["serviceAccountName"] = options.service_account
    wf_spec["securityContext"] |= {"runAsUser": uid, "runAsGroup": uid, "fsGroup": uid}
    wf_spec["podMetadata"]["labels"] = common.pod_labels(spec, run)
    wf_spec["ttlStrategy"]["secondsAfterCompletion"] = options.ttl_seconds
    wf_spec["podGC"]["deleteDelayDuration"] = options.pod_gc_delay

    unused = set()
    if options.uv_cache_pvc:
        _volume(wf_spec, "uv-cache")["persistentVolumeClaim"]["claimName"] = options.uv_cache_pvc
    else:
        unused.add("uv-cache")
    if options.results_pvc:
        _volume(wf_spec, "results")["persistentVolumeClaim"]["claimName"] = options.results_pvc
    else:
        unused.add("results")
    wf_spec["volumes"] = _without(wf_spec["volumes"], unused)

    script = wf_spec["templates"][0]["script"]
    script["image"] = options.image
    script["source"] = script_source(spec)
    script["volumeMounts"] = _without(script["volumeMounts"], unused)
    values = common.job_env(spec, options)
    script["env"] = [
        {"name": e["name"], "value": values[e["name"]]}
        for e in script["env"]
        if e["name"] in values
    ]
    if len(script["env"]) != len(values):
        raise AssertionError(f"{TEMPLATE_FILE} lacks variables: {set(values)}")
    quantities = common.resource_quantities(spec)
    if quantities:
        script["resources"] = {"requests": quantities, "limits": dict(quantities)}
    else:
        del script["resources"]
    _check_filled(workflow)
    return workflow


def _check_filled(node: Any) -> None:
    # Every FILLED marker of the template must have been replaced or dropped.
    if node == "FILLED":
        raise AssertionError(f"{TEMPLATE_FILE}: a FILLED field was left unfilled")
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        _check_filled(child)


def _volume(wf_spec: dict[str, Any], name: str) -> dict[str, Any]:
    volume: dict[str, Any] = next(v for v in wf_spec["volumes"] if v["name"] == name)
    return volume
