"""What every router of the native API shares: the service it serves, its error shape (and how the OpenAPI document
describes it), base URLs, JSON answers."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from pydantic import BaseModel

from jobnode.core.models import DeletePlan
from jobnode.service.emulation.responses import StrictJSONRoute, json_response
from jobnode.service.errors import Conflict, ServiceError
from jobnode.service.jobs import JobService

__all__ = ["Jobs", "base_url", "json_response", "native_error", "native_router", "plan_response", "responses"]

T = TypeVar("T")


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """Every error answer of the native API."""

    error: ErrorDetail


class Data(BaseModel, Generic[T]):
    """A list answer: `{"data": [...]}`."""

    data: list[T]


_MEANING = {
    400: "a query parameter, header or body is wrong (`details.field` names it)",
    401: "missing or wrong bearer token",
    404: "no such job or artifact (a deleted job: code `deleted`, with its tombstone)",
    409: "the request conflicts with a job's state, an idempotency key or the lineage rules",
    413: "the request, the job's items or one of its batches is larger than this service accepts",
    421: "a service without a token answers only requests addressed to localhost",
    422: "the body or a parameter does not validate (`details` names each field)",
}


def responses(
    *statuses: int, ok: Any = None, ok_status: int = 200, media_type: str | None = None
) -> dict[int | str, Any]:
    """The OpenAPI `responses` of a route: its success (a model, or a media type) and its error answers."""
    out: dict[int | str, Any] = {s: {"model": ErrorBody, "description": _MEANING[s]} for s in statuses}
    if ok is not None:
        out[ok_status] = {"model": ok, "description": "success"}
    elif media_type is not None:
        out[ok_status] = {"content": {media_type: {"schema": {"type": "string"}}}, "description": "success"}
    return out


#: answered by any route of the API (the token check, the `Host` check, the size limit, bad parameters)
COMMON_ERRORS = (400, 401, 413, 421, 422)


def native_router(**kwargs: Any) -> APIRouter:
    """A router of the native API: strict JSON bodies, the bearer token declared, the common errors documented."""
    return APIRouter(
        route_class=StrictJSONRoute,
        dependencies=[Security(HTTPBearer(auto_error=False, description="the service's token, if it has one"))],
        responses=responses(*COMMON_ERRORS),
        **kwargs,
    )


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
