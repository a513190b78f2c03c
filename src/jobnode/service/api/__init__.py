"""The native API of the local service (the `local` platform): `/v1` jobs, logs, artifacts, watch and steps.

Each noun is a router of its own; all of them call `JobService` and nothing below it.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp

from jobnode.service.api import artifacts, jobs, logs, steps, watch
from jobnode.service.api.common import native_error
from jobnode.service.emulation.errors import install_error_handlers
from jobnode.service.emulation.guards import bearer, guard
from jobnode.service.errors import ServiceError
from jobnode.service.jobs import JobService

#: paths that need no token: health and the API's description
PUBLIC_PATHS = ("/healthz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")

__all__ = ["PUBLIC_PATHS", "create_app", "native_error"]


def create_app(service: JobService, *, token: str | None = None, heartbeat: float = watch.HEARTBEAT) -> ASGIApp:
    """The native API over `service`; with a `token`, every path but `PUBLIC_PATHS` needs `Authorization: Bearer`.

    Example:
        ```python
        app = create_app(JobService(engine), token="s3cret")
        ```
    """
    app = FastAPI(
        title="jobnode local job service",
        version="1",
        description='Runs batch jobs on this machine. Errors are `{"error": {"code", "message", "details"}}`.',
    )
    app.state.service = service
    app.state.heartbeat = heartbeat
    install_error_handlers(app, native_error)
    for module in (jobs, logs, artifacts, watch, steps):
        app.include_router(module.router)
    app.include_router(steps.public)
    refusal = ServiceError(
        "missing or wrong bearer token: send 'Authorization: Bearer <token>'", status=401, code="unauthorized"
    )
    guarded: ASGIApp = guard(app, shape=native_error, token=token, read=bearer, refusal=refusal, public=PUBLIC_PATHS)
    return guarded
