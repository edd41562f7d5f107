"""The one exception tree of pyjobs; the server maps it to HTTP in one place."""

from __future__ import annotations

from dataclasses import dataclass


class PyjobsError(Exception):
    """Root of every error pyjobs raises."""


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of a request: where, and why."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidTaskError(PyjobsError):
    """A task request broke a rule; carries every field error found."""

    def __init__(self, errors: list[FieldError]) -> None:
        if not errors:
            raise ValueError("InvalidTaskError needs at least one FieldError")
        self.errors = tuple(errors)
        super().__init__(str(errors[0]))

    @classmethod
    def single(cls, field: str, message: str) -> InvalidTaskError:
        """An error about one field."""
        return cls([FieldError(field, message)])

    @property
    def field(self) -> str:
        """The first offending field, the one a one-line message names."""
        return self.errors[0].field

    @property
    def message(self) -> str:
        """Why the first offending field was refused."""
        return self.errors[0].message


class EnvInUseError(PyjobsError):
    """A cached environment cannot be removed because a run is using it."""

    def __init__(self, digest: str) -> None:
        super().__init__(f"environment {digest} is in use")
        self.digest = digest


class SandboxUnavailableError(PyjobsError):
    """The sandbox mode asked for cannot be provided on this machine."""

    def __init__(self, mode: str, reason: str) -> None:
        super().__init__(f"sandbox mode {mode!r} is unavailable: {reason}")
        self.mode = mode
        self.reason = reason


class RunNotFoundError(PyjobsError):
    """No run with this id is known to the executor."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run {run_id!r}")
        self.run_id = run_id


class ExecutorClosedError(PyjobsError):
    """The executor is shutting down and takes no more runs."""


class ShuttingDownError(PyjobsError):
    """The server is shutting down and takes no more submissions."""


class NotFoundError(PyjobsError):
    """The thing asked for does not exist, or is not the caller's to see."""

    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"{what} {key!r} not found")
        self.what = what
        self.key = key


class ConflictError(PyjobsError):
    """The request is valid but clashes with the current state (e.g. a run is active)."""


class UnauthorizedError(PyjobsError):
    """No valid credentials were presented."""


class ForbiddenError(PyjobsError):
    """The credentials are valid but do not allow this."""


class PayloadTooLargeError(PyjobsError):
    """A request body is larger than the server accepts."""

    def __init__(self, limit: int | None) -> None:
        # The client learns the limit from the server's message, which may not say it.
        text = f"larger than {limit} bytes" if limit is not None else "too large"
        super().__init__(f"request body {text}")
        self.limit = limit


class ServerUnreachableError(PyjobsError):
    """The client could not talk to the server: refused, timed out, or cut off."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the pyjobs server at {url} ({reason})")
        self.url = url
        self.reason = reason


class ApiError(PyjobsError):
    """The server answered with an error the tree has no class for (5xx, an unknown 4xx)."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(f"server error {status}: {message}")
        self.status = status
        self.code = code
        self.message = message


class WaitTimeoutError(PyjobsError, TimeoutError):
    """A task did not end within the time a caller was willing to wait."""

    def __init__(self, task_id: str, timeout: float) -> None:
        super().__init__(f"task {task_id!r} did not finish within {timeout:g} s")
        self.task_id = task_id
        self.timeout = timeout


class ConfigurationError(PyjobsError):
    """The settings in force cannot work (e.g. the Argo backend without a server URL)."""


class BackendUnavailableError(PyjobsError):
    """The backend could not be reached, or failed on its side: trying again later may help."""

    def __init__(self, backend: str, reason: str) -> None:
        super().__init__(f"{backend} unavailable: {reason}")
        self.backend = backend
        self.reason = reason


class BackendRejectedError(PyjobsError):
    """The backend refused a request (HTTP 4xx): the same request will be refused again."""

    def __init__(self, backend: str, status_code: int, message: str) -> None:
        super().__init__(f"{backend} refused the request (HTTP {status_code}): {message}")
        self.backend = backend
        self.status_code = status_code
        self.message = message
