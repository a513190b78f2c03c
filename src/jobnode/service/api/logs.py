"""A job's records: `/v1/jobs/{id}/logs`, `errors`, `events`, `dead-letters` and `result`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import Query
from fastapi.responses import Response

from jobnode.core.backend import LogQuery
from jobnode.core.models import DeadLetter, JobError, JobEvent, JobResult, LogEntry, LogLevel, Page
from jobnode.service.api.common import Data, Jobs, json_response, native_router, responses
from jobnode.service.errors import InvalidRequest

router = native_router(prefix="/v1/jobs/{job_id}", tags=["logs"])


@router.get("/logs", responses=responses(404, ok=Page[LogEntry]))
def job_logs(
    job_id: str,
    jobs: Jobs,
    after_time: datetime | None = Query(None, description="ISO 8601 or epoch seconds; entries strictly after"),
    before_time: datetime | None = Query(None, description="ISO 8601 or epoch seconds; entries strictly before"),
    min_level: str | None = Query(None, description="debug, info, warning or error"),
    kind: str | None = None,
    limit: int = Query(1000, ge=1, le=1000),
    cursor: str | None = None,
    order: Literal["asc", "desc"] = "asc",
) -> Response:
    """A page of the job's log entries; pass `next_cursor` or `prev_cursor` back to page either way."""
    level = None
    if min_level is not None:
        try:
            level = LogLevel(min_level.lower())
        except ValueError:
            raise InvalidRequest(
                "min_level", f"unknown level {min_level!r}; use debug, info, warning or error"
            ) from None
    query = LogQuery(
        after_time=after_time,
        before_time=before_time,
        min_level=level,
        kind=kind,
        limit=limit,
        cursor=cursor,
        order=order,
    )
    return Response(jobs.logs_json(job_id, query), media_type="application/json")


@router.get("/errors", responses=responses(404, ok=Data[JobError]))
def job_errors(job_id: str, jobs: Jobs, limit: int = Query(100, ge=1, le=10_000)) -> Response:
    """The job's most recent errors (item, batch, attempt, message), newest first."""
    return json_response({"data": [e.model_dump(mode="json") for e in jobs.errors(job_id, limit)]})


@router.get("/events", tags=["jobs"], responses=responses(404, ok=Data[JobEvent]))
def job_events(job_id: str, jobs: Jobs) -> Response:
    """Lifecycle events, still readable after the job was deleted."""
    return json_response({"data": [e.model_dump(mode="json") for e in jobs.events(job_id)]})


@router.get("/dead-letters", tags=["jobs"], responses=responses(404, ok=Data[DeadLetter]))
def dead_letters(job_id: str, jobs: Jobs) -> Response:
    """Dead-lettered batches with their items and last error."""
    return json_response({"data": [d.model_dump(mode="json") for d in jobs.dead_letters(job_id)]})


@router.get("/result", tags=["jobs"], responses=responses(404, ok=JobResult))
def job_result(job_id: str, jobs: Jobs, sample: int = Query(10, ge=0, le=1000)) -> Response:
    """Progress, output artifacts and a sample of the results."""
    return json_response(jobs.result(job_id, sample=sample).model_dump(mode="json"))
