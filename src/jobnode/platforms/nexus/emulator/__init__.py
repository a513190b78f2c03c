"""A Datature Nexus batch API served by the local job service: `jobnode serve --platform nexus`.

Datature's own SDK, unmodified, runs against it (point it there with `Client(key, endpoint=url)`, or
`DATATURE_API_BASE_URL` set before importing `datature.nexus`). The SDK drops any path of its base URL, so the routes
are at the root of the port. How Nexus maps onto the service: `jobnode.platforms.nexus.emulator.context`.

Errors are `{"message": ...}`: 400 for bad input (naming the field), 403 for a wrong `Secret-Key` (when the service
has a token, the secret key must be that token), 404 for unknown ids, 429 with `Retry-After` when the optional rate
limit (`JOBNODE_NEXUS_RATE_LIMIT` requests per second per key) is exceeded.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp

from jobnode.platforms.nexus.emulator import datasets, jobs, webhooks
from jobnode.platforms.nexus.emulator.context import Nexus
from jobnode.service.emulation import JobService, ServiceError, guard, header, install_error_handlers

RATE_LIMIT_ENV = "JOBNODE_NEXUS_RATE_LIMIT"
PUBLIC_PATHS = ("/uploads/",)


def nexus_error(error: ServiceError) -> Response:
    """Nexus's error shape: `{"message": ...}`; a request that fails validation is a 400 there."""
    status = 400 if error.status == 422 else error.status
    return JSONResponse({"message": error.message}, status_code=status, headers=error.headers)


def create_app(service: JobService, *, token: str | None = None, rate_limit: float | None = None) -> ASGIApp:
    """The Nexus batch API over `service`, at the root of its origin.

    With a `token`, requests must carry it as their `Secret-Key`; `rate_limit` (default: the environment's
    `JOBNODE_NEXUS_RATE_LIMIT`) caps each key's requests per second, answering 429 with `Retry-After` beyond it.
    """
    app = FastAPI(
        title="jobnode: Datature Nexus batch API emulator",
        version="1",
        description="Nexus batch jobs, datasets and webhooks, run by the local job service. Errors are "
        '`{"message": ...}`.',
    )
    app.state.nexus = Nexus(service)
    install_error_handlers(app, nexus_error, validation_status=400)
    for module in (jobs, datasets, webhooks):
        app.include_router(module.router)
    if rate_limit is None and os.environ.get(RATE_LIMIT_ENV):
        rate_limit = float(os.environ[RATE_LIMIT_ENV])
    refusal = ServiceError("missing or wrong Secret-Key: send the project's secret key (the service token)", status=403)
    guarded: ASGIApp = guard(
        app,
        shape=nexus_error,
        token=token,
        read=header("secret-key"),
        refusal=refusal,
        public=PUBLIC_PATHS,
        rate_limit=rate_limit,
    )
    return guarded
