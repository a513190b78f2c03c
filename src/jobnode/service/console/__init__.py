"""The web console of the local service, at `/ui`: the jobs, a job's page (the page a job's `url` opens), the
actions on a job and the step catalogue, for people, in a browser.

Server-rendered pages (Jinja2) with one small script that follows server-sent events and fetches log pages; no
front-end build. Everything it shows or does goes through `JobService`. It is mounted by `service.server.build_app`
beside the native API, and on a port that serves an emulator too (a shared path), where it shows that platform's
jobs with the platform's name.

Example:
    ```python
    app = create_console(JobService(engine), token="s3cret", platforms=["nexus"])
    ```
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp

from jobnode.service.console import actions, artifacts, auth, jobs, logs, steps
from jobnode.service.console.auth import Gate
from jobnode.service.console.pages import error_page
from jobnode.service.console.sessions import LoginThrottle, Sessions
from jobnode.service.emulation.errors import install_error_handlers
from jobnode.service.jobs import JobService
from jobnode.service.views import CONSOLE_PATH

__all__ = ["CONSOLE_PATH", "create_console"]

STATIC_DIR = Path(__file__).parent / "static"


def create_console(service: JobService, *, token: str | None = None, platforms: Sequence[str] = ()) -> ASGIApp:
    """The console's ASGI app (its routes are all under `/ui`).

    Args:
        service: the jobs it shows.
        token: the service's token; with one, a visitor logs in with it first.
        platforms: the names of the emulators served beside it; a job tagged with one is shown as that platform's.
    """
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.service = service
    app.state.platforms = tuple(platforms)
    app.state.sessions = Sessions(token)
    app.state.login_throttle = LoginThrottle()
    install_error_handlers(app, error_page)
    for module in (auth, jobs, logs, actions, artifacts, steps):
        app.include_router(module.router)
    app.mount(f"{CONSOLE_PATH}/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get(CONSOLE_PATH)
    @app.get(f"{CONSOLE_PATH}/")
    def home() -> Response:
        return RedirectResponse(f"{CONSOLE_PATH}/jobs", status_code=303)

    gated: ASGIApp = Gate(app, app.state.sessions)
    return gated
