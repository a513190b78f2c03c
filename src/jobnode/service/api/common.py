"""What every router of the native API shares: the service it serves, its error shape, base URLs, JSON answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response

from jobnode.core.models import DeletePlan
from jobnode.service.emulation.responses import json_response
from jobnode.service.errors import Conflict, ServiceError
from jobnode.service.jobs import JobService

__all__ = ["Jobs", "base_url", "json_response", "native_error", "plan_response"]


def native_error(error: ServiceError) -> Response:
    """The native API's error shape: `{"error": {"code", "message", "details"}}`."""
    body = {"error": {"code": error.code, "message": error.message, "details": error.details}}
    return JSONResponse(body, status_code=error.status, headers=error.headers)


def _service(request: Request) -> JobService:
    service: JobService = request.app.state.service
    return service


#: the `JobService` a route serves (a FastAPI dependency)
Jobs = Annotated[JobService, Depends(_service)]


def base_url(request: Request) -> str:
    """The URL the client reached the service at (links in answers use it)."""
    return str(request.base_url).rstrip("/")


def plan_response(plan: DeletePlan, what: str) -> Response:
    """A deletion plan: 200 when carried out or a dry run, 409 with every blocker when refused."""
    body = plan.model_dump(mode="json")
    if not plan.allowed and not plan.dry_run:
        reasons = "; ".join(b.reason for b in plan.blockers[:5])
        more = f" (and {len(plan.blockers) - 5} more)" if len(plan.blockers) > 5 else ""
        raise Conflict(f"{what} cannot be deleted: {reasons}{more}", code="lineage_conflict", details=body)
    return json_response(body)
