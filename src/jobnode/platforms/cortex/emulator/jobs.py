"""A Batch API's jobs: submit (`POST`, `?dryRun=true`), status (`GET ?jobID=`), stop (`DELETE ?jobID=`), at
`/<api_name>` (the API's endpoint) and at `/batch/<api_name>` (the operator's route the endpoint leads to)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from jobnode.platforms.cortex import messages
from jobnode.platforms.cortex.emulator import submissions
from jobnode.platforms.cortex.emulator.context import Cortex
from jobnode.platforms.cortex.emulator.errors import GO_ERROR, QUERY_PARAM_REQUIRED, CortexError
from jobnode.platforms.cortex.emulator.status import response_json, submitted_json
from jobnode.service.emulation import json_response

router = APIRouter(tags=["jobs"])
PATHS = ("/{api_name}", "/batch/{api_name}")
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})


def _cortex(request: Request) -> Cortex:
    cortex: Cortex = request.app.state.cortex
    return cortex


def endpoint(request: Request, api_name: str) -> str:
    """The API's endpoint as a client reaches it (`<origin>/<api_name>`)."""
    return f"{str(request.base_url).rstrip('/')}/{api_name}"


def _job_id(request: Request) -> str:
    job_id = request.query_params.get("jobID")
    if not job_id:
        raise CortexError(QUERY_PARAM_REQUIRED, "query param required: jobID")
    return job_id


async def submit(api_name: str, request: Request) -> Response:
    """Submit a job; with `?dryRun=true`, list the S3 objects it would read (`text/plain`) and submit nothing."""
    cortex = _cortex(request)
    await run_in_threadpool(cortex.api, api_name)
    raw = await request.body()
    if len(raw) > messages.REQUEST_LIMIT:
        raise CortexError(GO_ERROR, "http: request body too large (a submission may take 10 MiB; put the data in S3)")
    # a body that is not a submission is refused as JSON, dry run or not
    submission = await run_in_threadpool(submissions.parse, raw)
    if request.query_params.get("dryRun") in _TRUE:
        try:
            listing = await run_in_threadpool(cortex.dry_run, api_name, submission)
        except CortexError as exc:  # "plain text response for dry run because it is typically consumed by people"
            return PlainTextResponse(f"\n{exc.message}\n", status_code=400)
        return PlainTextResponse(listing)
    job = await run_in_threadpool(cortex.submit, api_name, submission)
    return json_response(submitted_json(job))


async def get_job(api_name: str, request: Request) -> Response:
    cortex = _cortex(request)
    job_id = _job_id(request)
    await run_in_threadpool(cortex.api, api_name)
    job, record, metrics = await run_in_threadpool(cortex.current, api_name, job_id)
    return json_response(response_json(job, record, metrics, endpoint(request, api_name)))


async def stop_job(api_name: str, request: Request) -> Response:
    """Stop a job (the CLI also sends `apiName`, which changes nothing)."""
    cortex = _cortex(request)
    job_id = _job_id(request)
    await run_in_threadpool(cortex.stop, api_name, job_id)
    return json_response({"message": f"stopped job {job_id}"})


for _path in PATHS:
    router.add_api_route(_path, submit, methods=["POST"])
    router.add_api_route(_path, get_job, methods=["GET"])
    router.add_api_route(_path, stop_job, methods=["DELETE"])
