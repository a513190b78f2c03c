"""The toy platform's emulator: how many steps the service runs, answered in the toy's own error shape."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp

from jobnode.service.emulation import JobService, ServiceError, guard, header, install_error_handlers, json_response


def toy_error(error: ServiceError) -> Response:
    return JSONResponse({"oops": error.message}, status_code=error.status)


def create_app(service: JobService, *, token: str | None = None) -> ASGIApp:
    app = FastAPI()
    install_error_handlers(app, toy_error)

    @app.get("/shelf")
    def shelf() -> Response:
        return json_response({"steps": sorted({s.name for s in service.steps()})})

    guarded: ASGIApp = guard(app, shape=toy_error, token=token, read=header("x-toy-key"))
    return guarded
