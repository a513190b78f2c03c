"""`/v1/jobs`: create (or plan), list, get, cancel, delete and resubmit jobs."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Header, Query, Request
from fastapi.responses import Response

from jobnode.core.models import DeletePlan, Job, JobPlan, JobSpec, JobState, Page
from jobnode.service.api.common import Jobs, base_url, json_response, native_router, plan_response, responses
from jobnode.service.errors import InvalidRequest
from jobnode.service.jobs import MAX_IDS

router = native_router(prefix="/v1/jobs", tags=["jobs"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]

_STATE = "(?:" + "|".join(s.value for s in JobState) + ")"
#: `state`: one or more states, comma-separated
STATES_PATTERN = f"^{_STATE}(?:,{_STATE})*$"
#: `ids`: one or more job ids, comma-separated, at most `MAX_IDS`
IDS_PATTERN = f"^[^,]+(?:,[^,]+){{0,{MAX_IDS - 1}}}$"


def id_list(ids: str) -> list[str]:
    """The job ids of an `ids` parameter (see `IDS_PATTERN`), or a 400 naming it."""
    listed = ids.split(",")
    if "" in listed:
        raise InvalidRequest("ids", "an empty id; give job ids separated by commas, without spaces around them")
    if len(listed) > MAX_IDS:
        raise InvalidRequest("ids", f"at most {MAX_IDS} ids in one request")
    return listed


@router.post("", status_code=201, responses=responses(404, 409, ok=Job | JobPlan, ok_status=200))
def create_job(
    spec: JobSpec, request: Request, jobs: Jobs, idempotency_key: IdempotencyKey = None, dry_run: bool = False
) -> Response:
    """Create a job (201; 200 with the job an earlier request with the same `Idempotency-Key` created), or with
    `dry_run=true` resolve its input and return the plan (200) without creating anything."""
    if dry_run:
        return json_response(jobs.plan(spec).model_dump(mode="json"))
    submitted = jobs.submit(spec, idempotency_key=idempotency_key)
    return json_response(submitted.record.to_json(base_url(request)), 201 if submitted.created else 200)


@router.get("", responses=responses(ok=Page[Job]))
def list_jobs(
    request: Request,
    jobs: Jobs,
    state: str | None = Query(
        None, description="comma-separated states", json_schema_extra={"pattern": STATES_PATTERN}
    ),
    tag: str | None = None,
    name: str | None = None,
    ids: str | None = Query(
        None,
        description=f"comma-separated job ids, at most {MAX_IDS} (bulk status)",
        json_schema_extra={"pattern": IDS_PATTERN},
    ),
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = None,
) -> Response:
    """Jobs, newest first; `ids` reads many jobs at once (bulk status)."""
    states = None
    if state is not None:
        if not re.fullmatch(STATES_PATTERN, state):
            names = state.split(",")
            unknown = [s for s in names if s not in JobState.__members__.values()] or names
            known = ", ".join(s.value for s in JobState)
            raise InvalidRequest(
                "state", f"unknown state(s) {', '.join(map(repr, unknown))}; give states separated by commas: {known}"
            )
        states = [JobState(s) for s in state.split(",")]
    page = jobs.list(
        states=states, tag=tag, name=name, ids=id_list(ids) if ids is not None else None, limit=limit, cursor=cursor
    )
    base = base_url(request)
    return json_response(
        {
            "data": [r.to_json(base) for r in page.records],
            "next_cursor": page.next_cursor,
            "prev_cursor": page.prev_cursor,
        }
    )


@router.get("/{job_id}", responses=responses(404, ok=Job))
def get_job(job_id: str, request: Request, jobs: Jobs) -> Response:
    return json_response(jobs.get(job_id).to_json(base_url(request)))


@router.post("/{job_id}/cancel", responses=responses(404, ok=Job))
def cancel_job(job_id: str, request: Request, jobs: Jobs) -> Response:
    """Cancel a job; cancelling a finished job returns it unchanged."""
    return json_response(jobs.cancel(job_id).to_json(base_url(request)))


@router.delete("/{job_id}", responses=responses(404, 409, ok=DeletePlan))
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


@router.post("/{job_id}/resubmit-failed", status_code=201, responses=responses(404, 409, ok=Job, ok_status=200))
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
