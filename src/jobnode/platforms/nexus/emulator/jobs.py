"""Nexus batch jobs: create, list, get, cancel (`PATCH` the stop time), delete, and their logs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from jobnode.platforms.nexus import wire
from jobnode.platforms.nexus.emulator.context import Nexus, bad, parse_level
from jobnode.service.emulation import BadCursor, json_response

router = APIRouter(prefix="/projects/{project_id}/batch/jobs", tags=["jobs"])
Limit = Annotated[int, Query(ge=1, le=1000, description="items on a page")]


def _nexus(request: Request) -> Nexus:
    nexus: Nexus = request.app.state.nexus
    return nexus


@router.post("", status_code=201)
def create_job(project_id: str, body: wire.CreateJobRequest, request: Request) -> Response:
    nexus = _nexus(request)
    doc = nexus.create_job(project_id, body)
    return json_response(nexus.job_json(*nexus.job(project_id, doc.id)), 201)


@router.get("")
def list_jobs(project_id: str, request: Request, limit: Limit = 100, page: str | None = None) -> Response:
    nexus = _nexus(request)
    try:
        listing = nexus.records.listing("job", scope=project_id, limit=limit, cursor=page)
    except BadCursor as exc:
        raise bad(f"page: {exc}; pass back a nextPage or prevPage exactly") from None
    return json_response(
        {"nextPage": listing.next_cursor, "prevPage": listing.prev_cursor, "data": nexus.jobs_json(listing.documents)}
    )


@router.get("/{job_id}")
def get_job(project_id: str, job_id: str, request: Request) -> Response:
    nexus = _nexus(request)
    return json_response(nexus.job_json(*nexus.job(project_id, job_id)))


@router.patch("/{job_id}")
def patch_job(project_id: str, job_id: str, body: wire.PatchJobRequest, request: Request) -> Response:
    """Cancel: move the stop time to now."""
    nexus = _nexus(request)
    nexus.cancel_job(*nexus.job(project_id, job_id), body.spec.stop_at_time)
    return json_response(nexus.job_json(*nexus.job(project_id, job_id)))


@router.delete("/{job_id}")
def delete_job(project_id: str, job_id: str, request: Request) -> Response:
    nexus = _nexus(request)
    nexus.delete_job(*nexus.job(project_id, job_id))
    return json_response(wire.DeleteResponse(id=job_id, deleted=True).to_wire())


@router.get("/{job_id}/logs")
def job_logs(
    project_id: str,
    job_id: str,
    request: Request,
    before_time: Annotated[int | None, Query(alias="beforeTime")] = None,
    after_time: Annotated[int | None, Query(alias="afterTime")] = None,
    min_level: Annotated[str | None, Query(alias="minLevel")] = None,
    max_entries: Annotated[int, Query(alias="maxEntries", ge=1, le=wire.LOG_PAGE_MAX)] = wire.LOG_PAGE_MAX,
) -> Response:
    """Log entries, newest first; both times are inclusive epoch milliseconds."""
    nexus = _nexus(request)
    doc, record = nexus.job(project_id, job_id)
    body = nexus.logs_json(
        doc, record, after=after_time, before=before_time, level=parse_level(min_level), max_entries=max_entries
    )
    return Response(body, media_type="application/json")
