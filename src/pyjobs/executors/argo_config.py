"""What the Argo executor needs to know: the server, its token, and how patiently to poll."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyjobs.config import Settings
from pyjobs.errors import ConfigurationError
from pyjobs.executors.argo_token import ArgoToken
from pyjobs.executors.runlog import DEFAULT_OUTPUT_LIMIT


@dataclass(frozen=True)
class ArgoConfig:
    """Connection and timing of the Argo executor (see `Settings` for each meaning)."""

    server: str
    token: ArgoToken
    home: Path
    verify_ssl: bool = True
    poll_seconds: float = 2.0
    retry_max_seconds: float = 60.0
    request_timeout: float = 30.0
    cancel_grace_seconds: float = 30.0
    # After a workflow ends, how long to keep trying to fetch the end of its log.
    log_drain_seconds: float = 30.0
    output_limit: int = DEFAULT_OUTPUT_LIMIT

    @classmethod
    def from_settings(cls, settings: Settings) -> ArgoConfig:
        """The configuration in `PYJOBS_ARGO_*`; `ConfigurationError` without a server URL."""
        if not settings.argo_server:
            raise ConfigurationError("PYJOBS_BACKEND=argo needs PYJOBS_ARGO_SERVER (its URL)")
        if not settings.argo_server.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"PYJOBS_ARGO_SERVER must be an http(s) URL, not {settings.argo_server!r}"
            )
        if settings.argo_token is not None and settings.argo_token_file is not None:
            raise ConfigurationError("set PYJOBS_ARGO_TOKEN or PYJOBS_ARGO_TOKEN_FILE, not both")
        value = settings.argo_token.get_secret_value() if settings.argo_token else None
        return cls(
            server=settings.argo_server.rstrip("/"),
            token=ArgoToken(value, settings.argo_token_file),
            home=settings.home_dir,
            verify_ssl=settings.argo_verify_ssl,
            poll_seconds=settings.argo_poll_seconds,
            retry_max_seconds=settings.argo_retry_max_seconds,
            request_timeout=settings.argo_request_timeout_seconds,
            cancel_grace_seconds=settings.argo_cancel_grace_seconds,
            output_limit=settings.output_limit_mb * 1024 * 1024,
        )
