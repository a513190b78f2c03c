"""What the local service refuses, and why: one exception per kind of refusal, each naming the field at fault.

`JobService` raises these; the native `/v1` routes render them as `{"error": {"code", "message", "details"}}` and
each emulator renders them in its platform's own error shape (`jobnode.service.emulation`).
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A refusal: an HTTP status, a short machine-readable code, a message for people and optional details."""

    status = 400
    code = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        details: Any = None,
        status: int | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    @property
    def field(self) -> str | None:
        """The request field at fault, when there is one."""
        found = self.details.get("field") if isinstance(self.details, dict) else None
        if isinstance(found, str):
            return found
        if isinstance(self.details, list) and self.details and isinstance(self.details[0], dict):
            found = self.details[0].get("field")
            return found if isinstance(found, str) else None
        return None


class InvalidRequest(ServiceError):
    """A request field is wrong (400): `field: what to do`."""

    def __init__(self, field: str, message: str, *, status: int = 400) -> None:
        super().__init__(f"{field}: {message}", details={"field": field}, status=status)


class Unprocessable(ServiceError):
    """The request is well-formed but cannot be carried out as asked (422): an unknown step, bad parameters."""

    status = 422
    code = "validation_error"

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        details = [{"field": field, "message": message} for field, message in problems]
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems[:5]) or "invalid request", details=details)

    @classmethod
    def one(cls, field: str, message: str) -> Unprocessable:
        return cls([(field, message)])


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class JobDeleted(NotFound):
    """The job existed and was deleted; its tombstone says when, by whom and what went with it."""

    code = "deleted"


class Conflict(ServiceError):
    """The request conflicts with the state of a job or with the lineage rules (409)."""

    status = 409
    code = "conflict"


class TooLarge(ServiceError):
    """A request or a part of it is larger than the service accepts (413)."""

    status = 413
    code = "too_large"
