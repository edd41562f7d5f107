"""The workflow of a task, built with the Hera SDK (`USE_HERA_SDK=true`, the default)."""

from __future__ import annotations

from typing import Any

from hera.workflows import Env, Resources, Script, Workflow
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


def _resources(spec: TaskSpec) -> Resources | None:
    quantities = common.resource_quantities(spec)
    if not quantities:
        return None
    # Requests equal limits: the scheduler reserves what the task may use.
    return Resources(
        cpu_request=quantities.get("cpu"),
        cpu_limit=quantities.get("cpu"),
        memory_request=quantities.get("memory"),
        memory_limit=quantities.get("memory"),
    )


def build_hera_workflow(
    spec: TaskSpec, options: ManifestOptions, run: RunRef | None = None
) -> Workflow:
    """The task's workflow as a Hera `Workflow`, ready for `WorkflowsService`."""
    volumes, mounts = _volumes(options)
    uid = options.run_as_user
    with Workflow(
        generate_name=common.GENERATE_NAME,
        namespace=common.namespace(spec, options),
        labels=common.workflow_labels(run),
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
    ) as workflow:
        Script(
            name="main",
            image=options.image,
            command=["bash"],
            source=script_source(spec),
            working_dir="/work",
            env=[Env(name=k, value=v) for k, v in common.job_env(spec, options).items()],
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
    return workflow


def build_workflow(
    spec: TaskSpec, options: ManifestOptions, run: RunRef | None = None
) -> dict[str, Any]:
    """The task's workflow as a plain dict, built with Hera."""
    manifest: dict[str, Any] = build_hera_workflow(spec, options, run).to_dict()
    return manifest
