"""`/v1/jobs`: create (or plan), list, get, cancel, delete and resubmit jobs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response

from jobnode.core.models import JobSpec, JobState
from jobnode.service.api.common import Jobs, base_url, json_response, plan_response
from jobnode.service.errors import InvalidRequest

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


@router.post("", status_code=201)
def create_job(
    spec: JobSpec, request: Request, jobs: Jobs, idempotency_key: IdempotencyKey = None, dry_run: bool = False
) -> Response:
    """Create a job (or, with `dry_run=true`, resolve its input and return the plan without creating)."""
    if dry_run:
        return json_response(jobs.plan(spec).model_dump(mode="json"))
    submitted = jobs.submit(spec, idempotency_key=idempotency_key)
    return json_response(submitted.record.to_json(base_url(request)), 201 if submitted.created else 200)


@router.get("")
def list_jobs(
    request: Request,
    jobs: Jobs,
    state: str | None = Query(None, description="comma-separated states"),
    tag: str | None = None,
    name: str | None = None,
    ids: str | None = Query(None, description="comma-separated job ids (bulk status)"),
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = None,
) -> Response:
    """Jobs, newest first; `ids` reads many jobs at once (bulk status)."""
    names = [s.strip() for s in state.split(",") if s.strip()] if state else []
    known = {s.value for s in JobState}
    if unknown := [s for s in names if s not in known]:
        raise InvalidRequest("state", f"unknown state(s) {', '.join(unknown)}; use {', '.join(sorted(known))}")
    id_list = [i.strip() for i in ids.split(",") if i.strip()] if ids else None
    page = jobs.list(
        states=[JobState(s) for s in names] or None, tag=tag, name=name, ids=id_list, limit=limit, cursor=cursor
    )
    base = base_url(request)
    return json_response(
        {
            "data": [r.to_json(base) for r in page.records],
            "next_cursor": page.next_cursor,
            "prev_cursor": page.prev_cursor,
        }
    )


@router.get("/{job_id}")
def get_job(job_id: str, request: Request, jobs: Jobs) -> Response:
    return json_response(jobs.get(job_id).to_json(base_url(request)))


@router.post("/{job_id}/cancel")
def cancel_job(job_id: str, request: Request, jobs: Jobs) -> Response:
    """Cancel a job; cancelling a finished job returns it unchanged."""
    return json_response(jobs.cancel(job_id).to_json(base_url(request)))


@router.delete("/{job_id}")
def delete_job(
    job_id: str,
    request: Request,
    jobs: Jobs,
    delete_outputs: bool = False,
    delete_subjobs: bool = False,
    dry_run: bool = False,
) -> Response:
    """Delete a job under the lineage rules. Refused: 409 with the plan and every blocker in `details`; a dry
    run answers 200 with the plan (`allowed` says whether the deletion would go through) and deletes nothing."""
    plan = jobs.delete(
        job_id,
        delete_outputs=delete_outputs,
        delete_subjobs=delete_subjobs,
        dry_run=dry_run,
        by=request.headers.get("user-agent"),
    )
    return plan_response(plan, f"job {job_id}")


@router.post("/{job_id}/resubmit-failed", status_code=201)
def resubmit_failed(
    job_id: str,
    request: Request,
    jobs: Jobs,
    overrides: dict[str, Any] | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a new job over the items of a finished job that failed (dead-lettered batches and items that
    failed alone), with the same step, parameters and webhook unless `overrides` (JobSpec fields) say
    otherwise. The new job is tagged `resubmit-of:<job_id>`."""
    submitted = jobs.resubmit_failed(job_id, dict(overrides or {}), idempotency_key=idempotency_key)
    return json_response(submitted.record.to_json(base_url(request)), 201 if submitted.created else 200)
