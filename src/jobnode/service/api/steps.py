"""`/v1/steps` and `/healthz`: what the service runs, and whether it is up."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from jobnode.service.api.common import Data, Jobs, json_response, native_router, responses
from jobnode.service.emulation.responses import StrictJSONRoute

public = APIRouter(route_class=StrictJSONRoute, responses=responses(421))
router = native_router()


@public.get("/healthz", tags=["service"])
def healthz(jobs: Jobs) -> dict[str, Any]:
    """Whether the service is up, and how many jobs it is running (no token needed)."""
    return {"status": "ok", "active_jobs": jobs.active_count()}


@router.get("/v1/steps", tags=["steps"], responses=responses(ok=Data[dict[str, Any]]))
def steps(jobs: Jobs) -> Response:
    """The registered processing steps, each version, with their parameter schemas."""
    return json_response({"data": [s.describe() for s in jobs.steps()]})
