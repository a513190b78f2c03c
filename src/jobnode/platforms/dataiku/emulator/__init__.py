"""A Dataiku DSS public API served by the local job service: `jobnode serve --platform dataiku`, under
`/dip/publicapi`, where the API client sends every request (`DSSClient("http://127.0.0.1:8080", api_key)`).

Projects' flows come from the declaration `JOBNODE_DATAIKU_FLOW` names (see `flow`); a recipe runs a processing
step of the service, a dataset's data is what its last build wrote or what was uploaded into it, and build jobs
really run on the service's engine (`builds`).

Auth: with a token, a request must carry it as its API key (HTTP Basic user, as the API client sends it), as a
Bearer token, or as `X-DKU-APITicket`; else 401. Errors are DSS's `{"errorType", "message", "detailedMessage"}`: 400
for a bad argument (naming the field), 401, 404 for an unknown project, job or dataset, 409.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp

from jobnode.platforms.dataiku.emulator import datasets, jobs, projects
from jobnode.platforms.dataiku.emulator.context import Dss
from jobnode.platforms.dataiku.emulator.driver import StartDriver
from jobnode.platforms.dataiku.emulator.errors import dss_error
from jobnode.platforms.dataiku.emulator.flow import FlowDeclaration
from jobnode.service.emulation import (
    JobService,
    ServiceError,
    any_of,
    basic_user,
    bearer,
    guard,
    header,
    install_error_handlers,
)


def create_app(service: JobService, *, token: str | None = None, flow: FlowDeclaration | None = None) -> ASGIApp:
    """The DSS public API over `service`; `flow` declares the projects' flows (default: the file
    `JOBNODE_DATAIKU_FLOW` names, or none).

    Raises:
        ConfigurationError: the declared flow cannot be read or is not valid (the message names the field).
    """
    app = FastAPI(
        title="jobnode: Dataiku DSS public API emulator",
        version="1",
        description="DSS build jobs, datasets and flows, run by the local job service. Errors are "
        '`{"errorType": ..., "message": ..., "detailedMessage": ...}`.',
    )
    dss = Dss(service, flow if flow is not None else FlowDeclaration.from_env())
    app.state.dss = dss
    install_error_handlers(app, dss_error, validation_status=400)
    for module in (jobs, datasets, projects):
        app.include_router(module.router)
    refusal = ServiceError("missing or wrong API key: send the service's token as the API key", status=401)
    guarded: ASGIApp = guard(
        StartDriver(app, dss.driver),
        shape=dss_error,
        token=token,
        read=any_of(basic_user, bearer, header("x-dku-apiticket")),
        refusal=refusal,
    )
    return guarded
