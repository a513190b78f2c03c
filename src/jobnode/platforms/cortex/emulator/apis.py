"""A Batch API as the operator lists it (`GET /get/<api_name>`, what `cortex get <api_name>` shows): its spec, its
endpoint, and its jobs in progress and most recent ones."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from jobnode.platforms.cortex.emulator.context import Cortex
from jobnode.platforms.cortex.emulator.jobs import endpoint
from jobnode.platforms.cortex.emulator.status import api_spec, job_status_json
from jobnode.service.emulation import json_response

router = APIRouter(tags=["apis"])


@router.get("/get/{api_name}")
async def get_api(api_name: str, request: Request) -> Response:
    cortex: Cortex = request.app.state.cortex
    step = await run_in_threadpool(cortex.api, api_name)
    jobs = await run_in_threadpool(cortex.recent, api_name)
    entry = {
        "spec": api_spec(api_name, cortex.api_id(step)),
        "endpoint": endpoint(request, api_name),
        "batch_job_statuses": [job_status_json(job, record, metrics) for job, record, metrics in jobs],
    }
    return json_response([entry])
