"""One exception hierarchy for everything jobnode raises; every message says what to do."""

from __future__ import annotations

from typing import Any


class JobnodeError(Exception):
    """The base of every jobnode error."""


class ConfigurationError(JobnodeError):
    """jobnode is set up wrongly (a missing URL, an unknown platform)."""


class TransportError(JobnodeError):
    """The service could not be reached, even after retries."""


class APIError(JobnodeError):
    """The service answered with an error."""

    status_code: int = 0

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        details: Any = None,
        platform: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        #: seconds the platform asked to wait before trying again (its `Retry-After`), when it said
        self.retry_after = retry_after
        if status_code is not None:
            self.status_code = status_code
        self.code = code
        self.details = details
        self.platform = platform

    def __str__(self) -> str:
        where = f"{self.platform} " if self.platform else ""
        return f"{where}HTTP {self.status_code}: {self.message}"


class BadRequest(APIError):
    status_code = 400


class AuthenticationError(APIError):
    status_code = 401


class PermissionDenied(APIError):
    status_code = 403


class NotFound(APIError):
    status_code = 404


class Conflict(APIError):
    """The request conflicts with the state of a job (deleting a running job, a lineage blocker)."""

    status_code = 409


class ValidationFailed(APIError):
    status_code = 422


class RateLimited(APIError):
    status_code = 429


class ServerError(APIError):
    status_code = 500


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    422: ValidationFailed,
    429: RateLimited,
}


def error_class_for(status_code: int) -> type[APIError]:
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, APIError)


class UnsupportedOperation(JobnodeError):
    """The platform has no such operation (Nucleus cannot cancel, Cortex has no logs)."""

    def __init__(self, platform: str, operation: str) -> None:
        super().__init__(f"the {platform} platform does not support {operation!r}")
        self.platform = platform
        self.operation = operation


class JobFailed(JobnodeError):
    """A job ended in a state other than succeeded."""

    def __init__(self, job: Any, errors: list[Any] | None = None) -> None:
        reason = job.reason or job.message or "no reason given"
        super().__init__(f"job {job.id} ended {job.state.value}: {reason}")
        self.job = job
        self.errors = errors or []


class WaitTimeout(JobnodeError):
    """Waiting for a job took longer than the timeout; the job itself may still be running."""

    def __init__(self, job_id: str, timeout: float, last: Any = None) -> None:
        super().__init__(f"job {job_id} was not finished after {timeout:g}s; cancel it or wait longer")
        self.job_id = job_id
        self.timeout = timeout
        self.last = last
