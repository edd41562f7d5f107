"""Settings: every environment variable pyjobs reads, in one pydantic-settings class."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The uv project's official image: Python 3.12 and uv on Debian bookworm (slim).
DEFAULT_IMAGE = "astral/uv:python3.12-bookworm-slim"


class Backend(StrEnum):
    """Where runs execute."""

    LOCAL = "local"
    ARGO = "argo"

    @property
    def runs_outlive_server(self) -> bool:
        """True when runs go on without the server (on a cluster), so they are re-attached."""
        return self is Backend.ARGO


class SandboxSetting(StrEnum):
    """How local runs are isolated (see DESIGN.md)."""

    AUTO = "auto"
    BWRAP = "bwrap"
    NONE = "none"


class Settings(BaseSettings):
    """pyjobs configuration from `PYJOBS_*` variables (and `USE_HERA_SDK`)."""

    model_config = SettingsConfigDict(env_prefix="PYJOBS_", extra="ignore", populate_by_name=True)

    home: Path = Field(default=Path("~/.pyjobs"), description="Database, logs, env cache.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL.")
    backend: Backend = Backend.LOCAL
    use_hera_sdk: bool = Field(
        default=True,
        validation_alias=AliasChoices("USE_HERA_SDK", "use_hera_sdk"),
        description="True: Hera builds workflows; False: the YAML-template builder.",
    )
    sandbox: SandboxSetting = SandboxSetting.AUTO
    max_concurrent: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    dispatch: bool = Field(
        default=True,
        description="False: accept and store runs but do not start them "
        "(for maintenance windows and benchmarks).",
    )
    env_cache_max_gb: float = Field(default=20.0, ge=0, description="0 means unbounded.")
    sandbox_root: Path | None = Field(
        default=None, description="Env cache and run workdirs; must be reachable by uid 65534."
    )
    python: Path | None = Field(default=None, description="Interpreter environments use.")
    output_limit_mb: int = Field(default=10, ge=1, description="Captured output per run.")
    shutdown_grace_seconds: float = Field(
        default=10.0, ge=0, description="On shutdown, how long runs in flight may finish."
    )

    argo_server: str | None = None
    argo_token: SecretStr | None = None
    argo_token_file: Path | None = Field(
        default=None, description="A file holding the token, read again whenever it changes."
    )
    argo_namespace: str = "argo"
    argo_verify_ssl: bool = True
    argo_poll_seconds: float = Field(
        default=2.0, gt=0, description="How often a running workflow's status is read."
    )
    argo_retry_max_seconds: float = Field(
        default=60.0, gt=0, description="Longest wait between retries while Argo is unreachable."
    )
    argo_request_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Longest wait for one Argo Server answer."
    )
    argo_cancel_grace_seconds: float = Field(
        default=30.0, ge=0, description="After a stop, how long before a terminate."
    )
    argo_max_in_flight: int = Field(
        default=500, ge=1, description="Workflows one server follows at once; the rest queue."
    )

    # How workflows are built (deployment choices, not per task).
    image: str = Field(default=DEFAULT_IMAGE, description="Image with Python, bash and uv.")
    argo_service_account: str = Field(
        default="pyjobs-runner", description="ServiceAccount of workflow pods (never default)."
    )
    run_as_user: int = Field(default=1000, ge=1, description="Non-root uid of workflow pods.")
    argo_ttl_seconds: int = Field(default=86_400, ge=0, description="Delete finished workflows.")
    argo_pod_gc_delay: str = Field(default="60s", description="Keep finished pods this long.")
    argo_uv_cache_pvc: str | None = Field(default=None, description="PVC for a shared uv cache.")
    argo_results_pvc: str | None = Field(default=None, description="PVC for results.")

    url: str = "http://127.0.0.1:8000"
    token: SecretStr | None = None

    @property
    def home_dir(self) -> Path:
        """`PYJOBS_HOME` with `~` expanded."""
        return self.home.expanduser()

    @property
    def database(self) -> str:
        """The database URL in force: `PYJOBS_DATABASE_URL`, else SQLite under the home."""
        return self.database_url or f"sqlite:///{self.home_dir / 'pyjobs.db'}"
