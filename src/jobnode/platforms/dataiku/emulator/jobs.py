"""DSS jobs: start, list (all, running), status, abort, and the log as text."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import ValidationError

from jobnode.platforms.dataiku import wire
from jobnode.platforms.dataiku.emulator.context import Dss, project
from jobnode.service.emulation import json_response, read_json, validation_error

router = APIRouter(tags=["jobs"])
JOBS = "/projects/{project_key}/jobs"


def _dss(request: Request) -> Dss:
    dss: Dss = request.app.state.dss
    return dss


@router.get(JOBS + "/")
@router.get(JOBS)
def list_jobs(project_key: str, request: Request, limit: Annotated[int | None, Query(ge=1)] = None) -> Response:
    """Every job of the project, newest first (the `limit` newest with `limit`)."""
    builds = _dss(request).builds
    docs = builds.jobs(project(project_key))
    return json_response(builds.summaries(docs[:limit] if limit else docs))


@router.post(JOBS + "/")
@router.post(JOBS)
async def start_job(project_key: str, request: Request) -> Response:
    """Start a job from its definition (the API client sends it as JSON without a Content-Type)."""
    body = await read_json(request)
    try:
        definition = wire.JobDefinition.model_validate(body)
    except ValidationError as exc:
        raise validation_error(list(exc.errors()), status=400) from None
    dss = _dss(request)
    return json_response(await dss.run(dss.builds.start, project(project_key), definition))


@router.get(JOBS + "/running/")
@router.get(JOBS + "/running")
def running_jobs(project_key: str, request: Request) -> Response:
    builds = _dss(request).builds
    return json_response(builds.summaries(builds.jobs(project(project_key), running=True)))


@router.get("/jobs/running/")
@router.get("/jobs/running")
def all_running_jobs(request: Request, all_users: Annotated[str | None, Query(alias="allUsers")] = None) -> Response:
    """The jobs of every project that have not ended (`allUsers` changes nothing: the emulator has one user)."""
    builds = _dss(request).builds
    return json_response(builds.summaries(builds.jobs(None, running=True)))


@router.get(JOBS + "/{job_id}/")
@router.get(JOBS + "/{job_id}")
def job_status(project_key: str, job_id: str, request: Request) -> Response:
    builds = _dss(request).builds
    return json_response(builds.status(builds.get(project(project_key), job_id)))


@router.post(JOBS + "/{job_id}/abort")
@router.post(JOBS + "/{job_id}/abort/")
def abort_job(project_key: str, job_id: str, request: Request) -> Response:
    """Abort the job (the API client sends no body, and needs a JSON answer)."""
    _dss(request).builds.abort(project(project_key), job_id)
    return json_response({"msg": f"Abort requested for job {job_id}"})


@router.get(JOBS + "/{job_id}/log")
@router.get(JOBS + "/{job_id}/log/")
def job_log(project_key: str, job_id: str, request: Request, activity: str | None = None) -> Response:
    """The log as text; `activity` keeps one activity's lines."""
    builds = _dss(request).builds
    text = builds.log_text(builds.get(project(project_key), job_id), activity or None)
    return PlainTextResponse(text)
