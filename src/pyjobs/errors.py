"""The exception tree of pyjobs: every error it raises on purpose derives from PyjobsError."""


class PyjobsError(Exception):
    """Root of all pyjobs errors."""


class SandboxUnavailableError(PyjobsError):
    """The sandbox mode asked for cannot be provided on this machine."""

    def __init__(self, mode: str, reason: str) -> None:
        super().__init__(f"sandbox mode {mode!r} is unavailable: {reason}")
        self.mode = mode
        self.reason = reason
