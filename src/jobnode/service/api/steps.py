"""`/v1/steps` and `/healthz`: what the service runs, and whether it is up."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from jobnode.service.api.common import Jobs, json_response

router = APIRouter()


@router.get("/healthz", tags=["service"])
def healthz(jobs: Jobs) -> dict[str, Any]:
    return {"status": "ok", "active_jobs": jobs.active_count()}


@router.get("/v1/steps", tags=["steps"])
def steps(jobs: Jobs) -> Response:
    """The registered processing steps, each version, with their parameter schemas."""
    return json_response({"data": [s.describe() for s in jobs.steps()]})
