"""What a manifest needs besides the task: deployment choices and the run it is for."""

from __future__ import annotations

from dataclasses import dataclass

from pyjobs.config import DEFAULT_IMAGE, Settings


@dataclass(frozen=True)
class ManifestOptions:
    """Deployment-wide choices baked into every workflow (image, accounts, retention)."""

    image: str = DEFAULT_IMAGE
    namespace: str = "argo"
    service_account: str = "pyjobs-runner"
    run_as_user: int = 1000
    ttl_seconds: int = 86_400
    pod_gc_delay: str = "60s"
    uv_cache_pvc: str | None = None
    results_pvc: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ManifestOptions:
        """The options configured through `PYJOBS_*` variables."""
        return cls(
            image=settings.image,
            namespace=settings.argo_namespace,
            service_account=settings.argo_service_account,
            run_as_user=settings.run_as_user,
            ttl_seconds=settings.argo_ttl_seconds,
            pod_gc_delay=settings.argo_pod_gc_delay,
            uv_cache_pvc=settings.argo_uv_cache_pvc,
            results_pvc=settings.argo_results_pvc,
        )


@dataclass(frozen=True)
class RunRef:
    """The task and run a workflow belongs to; carried in its labels."""

    task_id: str
    run_number: int
