"""`/v1/artifacts`: output artifacts (JSON lines), their records, and deletion under the lineage rules."""

from __future__ import annotations

from fastapi import Query, Request
from fastapi.responses import Response, StreamingResponse

from jobnode.core.models import Artifact, DeletePlan
from jobnode.service.api.common import Jobs, json_response, native_router, plan_response, responses

router = native_router(prefix="/v1/artifacts", tags=["artifacts"])


@router.get("/{artifact_id}", responses=responses(404, ok=Artifact))
def get_artifact(artifact_id: str, jobs: Jobs) -> Response:
    """An artifact, with the jobs that consume it."""
    return json_response(jobs.artifact(artifact_id).to_json())


@router.get("/{artifact_id}/content", responses=responses(404, media_type="application/x-ndjson"))
def artifact_content(
    artifact_id: str, jobs: Jobs, skip: int = Query(0, ge=0, description="records to skip (to resume a read)")
) -> Response:
    """The artifact's records, one JSON value per line."""
    return StreamingResponse(jobs.artifact_lines(artifact_id, skip=skip), media_type="application/x-ndjson")


@router.delete("/{artifact_id}", responses=responses(404, 409, ok=DeletePlan))
def delete_artifact(artifact_id: str, request: Request, jobs: Jobs, dry_run: bool = False) -> Response:
    """Delete an output artifact unless a job still reads it (409 naming each such job)."""
    plan = jobs.delete_artifact(artifact_id, dry_run=dry_run, by=request.headers.get("user-agent"))
    return plan_response(plan, f"artifact {artifact_id}")
