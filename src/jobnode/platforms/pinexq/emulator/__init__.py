"""PinexQ's Job-Management API served by the local job service: `jobnode serve --platform pinexq`.

PinexQ's own SDK, unmodified, runs against it: `create_pinexq_client(<service URL>, <service token>)`, or any
`httpx.Client(base_url=<service URL>, headers={"x-api-key": <token>})`. It is a Siren hypermedia API: clients start
at `api/EntryPoint` and follow links and actions. How PinexQ maps onto the service:
`jobnode.platforms.pinexq.emulator.context`.

Errors are RFC 7807 problems (`application/problem+json`): 400 for bad input (naming the field), 401 for a missing
or wrong `x-api-key` (when the service has a token, the API key must be that token), 404 for unknown resources,
409 for an action the resource does not offer now and for a refused deletion (with its `blockers`).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp

from jobnode.platforms.pinexq.emulator import entrypoint, events, jobs, processing_steps, workdata
from jobnode.platforms.pinexq.emulator.context import PinexQ
from jobnode.platforms.pinexq.emulator.hypermedia import problem
from jobnode.service.emulation import JobService, ServiceError, guard, header, install_error_handlers


def create_app(service: JobService, *, token: str | None = None, keepalive: float = events.KEEPALIVE) -> ASGIApp:
    """PinexQ's API over `service`, at `/api`; with a `token`, every request (the event stream too) must carry it
    as its `x-api-key`. `keepalive` is the seconds between two keep-alive events of the event stream."""
    app = FastAPI(
        title="jobnode: PinexQ Job-Management API emulator",
        version="1",
        description="PinexQ jobs, WorkData and processing steps as Siren hypermedia, run by the local job service. "
        "Errors are RFC 7807 problems.",
    )
    app.state.pinexq = PinexQ(service)
    app.state.keepalive = keepalive
    install_error_handlers(app, problem, validation_status=400)
    for module in (entrypoint, jobs, workdata, processing_steps, events):
        app.include_router(module.router)
    refusal = ServiceError("missing or wrong x-api-key: send your API key (the service's token)", status=401)
    guarded: ASGIApp = guard(app, shape=problem, token=token, read=header("x-api-key"), refusal=refusal)
    return guarded
