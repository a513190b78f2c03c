"""A Scale Nucleus API served by the local job service: `jobnode serve --platform nucleus`, under `/v1/nucleus`.

The `scale-nucleus` SDK, unmodified, runs against it: `NucleusClient(key, endpoint="http://127.0.0.1:PORT/v1/nucleus")`
(or `NUCLEUS_ENDPOINT`). What it serves: datasets with their items and annotations, the signed-URL upload, async
appends and annotates that run on the service's engine, and `jobs/`, `job/{id}`, `job/{id}/errors`,
`job/{id}/info`. How Nucleus maps onto the service: `jobnode.platforms.nucleus.emulator.context`.

Errors are Scale's `{"status_code": ..., "error": ...}`: 400 for bad input (naming the field), 401 for a missing or
wrong key (when the service has a token, the API key must be that token: HTTP Basic user, or
`x-limited-access-key`), 404 for unknown ids, 429 with `Retry-After` when the optional rate limit
(`JOBNODE_NUCLEUS_RATE_LIMIT` requests per second per key) is exceeded.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp

from jobnode.platforms.nucleus import wire
from jobnode.platforms.nucleus.emulator import datasets, jobs, uploads
from jobnode.platforms.nucleus.emulator.context import Nucleus
from jobnode.service.emulation import (
    JobService,
    ServiceError,
    any_of,
    basic_user,
    guard,
    header,
    install_error_handlers,
)

RATE_LIMIT_ENV = "JOBNODE_NUCLEUS_RATE_LIMIT"


def nucleus_error(error: ServiceError) -> Response:
    """Scale's error shape; a request that fails validation is a 400 there."""
    status = 400 if error.status == 422 else error.status
    body = wire.ErrorBody(status_code=status, error=error.message).to_wire()
    return JSONResponse(body, status_code=status, headers=error.headers)


def create_app(service: JobService, *, token: str | None = None, rate_limit: float | None = None) -> ASGIApp:
    """The Nucleus API over `service` (mounted at `/v1/nucleus`; the signed upload URLs are at `/uploads/`).

    With a `token`, requests must carry it as their API key; `rate_limit` (default: the environment's
    `JOBNODE_NUCLEUS_RATE_LIMIT`) caps each key's requests per second, answering 429 with `Retry-After` beyond it.
    """
    app = FastAPI(
        title="jobnode: Scale Nucleus API emulator",
        version="1",
        description="Nucleus datasets and async jobs, run by the local job service. Errors are "
        '`{"status_code": ..., "error": ...}`.',
    )
    app.state.nucleus = Nucleus(service)
    install_error_handlers(app, nucleus_error, validation_status=400)
    for module in (datasets, uploads, jobs):
        app.include_router(module.router)
    if rate_limit is None and os.environ.get(RATE_LIMIT_ENV):
        rate_limit = float(os.environ[RATE_LIMIT_ENV])
    refusal = ServiceError(
        "missing or wrong API key: send your key as the HTTP Basic user (the service token)", status=401
    )
    guarded: ASGIApp = guard(
        app,
        shape=nucleus_error,
        token=token,
        read=any_of(basic_user, header("x-limited-access-key")),
        refusal=refusal,
        public=(uploads.UPLOADS,),
        rate_limit=rate_limit,
    )
    return guarded
