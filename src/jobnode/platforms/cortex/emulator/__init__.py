"""Cortex Batch APIs served by the local job service: `jobnode serve --platform cortex`.

Each registered processing step is a Batch API: `POST /<api_name>` submits a job exactly as the Cortex
documentation shows (the body's `item_list`, `file_path_lister` or `delimited_files`; `?dryRun=true`),
`GET /<api_name>?jobID=` is its status and `DELETE /<api_name>?jobID=` stops it; `/batch/<api_name>` (the operator's
route) answers the same, and `GET /get/<api_name>` lists the API's recent jobs as the operator does. S3 is read and
written through fsspec, configured in the service's environment (`FSSPEC_S3_ENDPOINT_URL`, `AWS_*`). How Cortex maps
onto the service: `jobnode.platforms.cortex.emulator.context`.

Errors are Cortex's: HTTP 400 with `{"kind": ..., "message": ...}` (a dry run's are `text/plain`). When the service
has a token, requests carry it as a bearer token (401 otherwise); Cortex's own endpoints take none.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp

from jobnode.platforms.cortex.emulator import apis, jobs
from jobnode.platforms.cortex.emulator.context import Cortex
from jobnode.platforms.cortex.emulator.errors import cortex_error
from jobnode.service.emulation import JobService, ServiceError, bearer, guard, install_error_handlers


def create_app(service: JobService, *, token: str | None = None) -> ASGIApp:
    """The Batch APIs of `service`'s steps, at the root of its origin; with a `token`, requests must carry it as
    `Authorization: Bearer <token>`."""
    app = FastAPI(
        title="jobnode: Cortex Batch API emulator",
        version="1",
        description="Cortex Batch API jobs, run by the local job service. Errors are HTTP 400 with "
        '`{"kind": ..., "message": ...}`.',
    )
    app.state.cortex = Cortex(service)
    install_error_handlers(app, cortex_error, validation_status=400)
    app.include_router(apis.router)
    app.include_router(jobs.router)
    refusal = ServiceError(
        "missing or wrong bearer token: send the service's token as Authorization: Bearer <token>",
        status=401,
        code="unauthorized",
    )
    guarded: ASGIApp = guard(app, shape=cortex_error, token=token, read=bearer, refusal=refusal)
    return guarded
