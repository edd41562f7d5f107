"""The exceptions pyjobs raises."""


class PyjobsError(Exception):
    """Root of every error pyjobs raises."""


class EnvInUseError(PyjobsError):
    """A cached environment cannot be removed because a run is using it."""

    def __init__(self, digest: str) -> None:
        super().__init__(f"environment {digest} is in use")
        self.digest = digest
