"""How a run ended, as an executor records it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from pyjobs.status import FailureReason, RunStatus


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended, as the executor records it."""

    status: RunStatus
    reason: FailureReason | None = None
    message: str = ""
    exit_code: int | None = None
    signal: int | None = None
    run_seconds: float | None = None
    limits: tuple[str, ...] = ()

    @classmethod
    def failed(cls, reason: FailureReason, message: str, **details: object) -> RunOutcome:
        """A failure with its reason."""
        return cls(RunStatus.FAILED, reason, message, **details)  # type: ignore[arg-type]

    @classmethod
    def cancelled(cls, message: str = "cancelled") -> RunOutcome:
        """A run stopped on request."""
        return cls(RunStatus.CANCELLED, FailureReason.CANCELLED, message)

    def as_cancelled(self) -> RunOutcome:
        """The same run, reported as cancelled (it ended because someone stopped it)."""
        return replace(
            self, status=RunStatus.CANCELLED, reason=FailureReason.CANCELLED, message="cancelled"
        )
