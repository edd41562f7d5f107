"""The workflow of a task, built with the Hera SDK (`USE_HERA_SDK=true`, the default)."""

from __future__ import annotations

from typing import Any

from hera.workflows import models as m

from pyjobs.manifests import common
from pyjobs.manifests.options import ManifestOptions, RunRef
from pyjobs.script import script_source
from pyjobs.spec import TaskSpec


def _volumes(options: ManifestOptions) -> tuple[list[m.Volume], list[m.VolumeMount]]:
    volumes = [
        m.Volume(name="tmp", empty_dir=m.EmptyDirVolumeSource()),
        m.Volume(name="work", empty_dir=m.EmptyDirVolumeSource()),
    ]
    mounts = [
        m.VolumeMount(name="tmp", mount_path="/tmp"),  # noqa: S108 - the pod's private /tmp
        m.VolumeMount(name="work", mount_path="/work"),
    ]
    if options.uv_cache_pvc:
        claim = m.PersistentVolumeClaimVolumeSource(claim_name=options.uv_cache_pvc)
        volumes.append(m.Volume(name="uv-cache", persistent_volume_claim=claim))
        mounts.append(m.VolumeMount(name="uv-cache", mount_path=common.UV_CACHE_MOUNT))
    if options.results_pvc:
        claim = m.PersistentVolumeClaimVolumeSource(claim_name=options.results_pvc)
        volumes.append(m.Volume(name="results", persistent_volume_claim=claim))
        mounts.append(
            m.VolumeMount(
                name="results",
                mount_path=common.RESULTS_MOUNT,
                sub_path_expr="$(ARGO_WORKFLOW_NAME)",
            )
        )
    return volumes, mounts


def _resources(spec: TaskSpec) -> m.ResourceRequirements | None:
    quantities = {k: m.Quantity(v) for k, v in common.resource_quantities(spec).items()}
    if not quantities:
        return None
    # Requests equal limits: the scheduler reserves what the task may use.
    return m.ResourceRequirements(requests=quantities, limits=dict(quantities))


def build_hera_workflow(
    spec: TaskSpec, options: ManifestOptions, run: RunRef | None = None
) -> m.Workflow:
    """The task's workflow as Hera's Workflow model, ready for `WorkflowsService`.

    Built from Hera's typed models of the Argo API rather than its high-level `Workflow`
    and `Script` classes: the same workflow (the golden files say so) without their build
    step, which made a manifest cost 0.54 ms instead of 0.11 ms — on every submit.
    """
    volumes, mounts = _volumes(options)
    uid = options.run_as_user
    script = m.ScriptTemplate(
        image=options.image,
        command=["bash"],
        source=script_source(spec),
        working_dir="/work",
        env=[m.EnvVar(name=k, value=v) for k, v in common.job_env(spec, options).items()],
        resources=_resources(spec),
        security_context=m.SecurityContext(
            allow_privilege_escalation=False,
            privileged=False,
            read_only_root_filesystem=True,
            run_as_non_root=True,
            capabilities=m.Capabilities(drop=["ALL"]),
        ),
        volume_mounts=mounts,
    )
    return m.Workflow(
        api_version="argoproj.io/v1alpha1",
        kind="Workflow",
        metadata=m.ObjectMeta(
            generate_name=common.GENERATE_NAME,
            namespace=common.namespace(spec, options),
            labels=common.workflow_labels(run),
        ),
        spec=m.WorkflowSpec(
            entrypoint="main",
            active_deadline_seconds=spec.timeout_seconds,
            service_account_name=options.service_account,
            automount_service_account_token=False,
            executor=m.ExecutorConfig(service_account_name=options.service_account),
            security_context=m.PodSecurityContext(
                run_as_non_root=True,
                run_as_user=uid,
                run_as_group=uid,
                fs_group=uid,
                seccomp_profile=m.SeccompProfile(type="RuntimeDefault"),
            ),
            pod_metadata=m.Metadata(labels=common.pod_labels(spec, run)),
            ttl_strategy=m.TTLStrategy(seconds_after_completion=options.ttl_seconds),
            pod_gc=m.PodGC(strategy="OnPodCompletion", delete_delay_duration=options.pod_gc_delay),
            volumes=volumes,
            templates=[m.Template(name="main", script=script)],
        ),
    )


def build_workflow(
    spec: TaskSpec, options: ManifestOptions, run: RunRef | None = None
) -> dict[str, Any]:
    """The task's workflow as a plain dict, built with Hera."""
    workflow = build_hera_workflow(spec, options, run)
    manifest: dict[str, Any] = workflow.model_dump(by_alias=True, exclude_none=True, mode="json")
    return manifest
