"""Error answers in a platform's own shape, and the handlers that make every failure one of them (never a bare 500
for bad input, never a traceback)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match, Route

from jobnode.service.errors import ServiceError, Unprocessable

log = logging.getLogger("jobnode.service")

#: turns a refusal into the platform's error response
ErrorShape = Callable[[ServiceError], Response]

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def field_path(loc: tuple[Any, ...]) -> str:
    """A request field's path without its location (`input.items.items`, not `body.input.items.items`; a
    discriminated union adds its tag, here the first `items`)."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_error(errors: list[Any], *, prefix: str = "", status: int = 422) -> ServiceError:
    """A pydantic or FastAPI validation failure as a refusal that names each field and what to do."""
    problems = [(prefix + _field(e), _explain(e)) for e in errors]
    error = Unprocessable(problems)
    error.status = status
    return error


def _field(error: Any) -> str:
    loc = tuple(error.get("loc", ()))
    kind = error.get("type", "")
    if kind == "json_invalid":
        return "body"
    if kind in ("union_tag_not_found", "union_tag_invalid"):  # the field at fault is the tag itself
        loc = (*loc, str((error.get("ctx") or {}).get("discriminator", "")).strip("'"))
    return field_path(loc)


def _explain(error: Any) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    tags = ctx.get("expected_tags") or "the documented values"
    if kind == "union_tag_not_found":
        return f"required; one of {tags}"
    if kind == "union_tag_invalid":
        return f"unknown value {ctx.get('tag')!r}; use one of {tags}"
    if kind == "json_invalid":
        return f"not valid JSON ({ctx.get('error', 'a syntax error')}); send a JSON document"
    if kind == "missing":
        return "required; give it"
    if kind == "extra_forbidden":
        return "not a field of this request; remove it"
    return str(error.get("msg", "invalid"))


def install_error_handlers(app: FastAPI, shape: ErrorShape, *, validation_status: int = 422) -> None:
    """Make every failure of `app` an answer in `shape`: refusals (`ServiceError`), request validation (with
    `validation_status`), unknown routes and methods (405 with `Allow`), and anything unexpected (500, logged).

    Example:
        ```python
        app = FastAPI()
        install_error_handlers(app, lambda e: JSONResponse({"message": e.message}, status_code=e.status))
        ```
    """

    @app.exception_handler(ServiceError)
    async def _refused(_: Request, exc: ServiceError) -> Response:
        return _with_headers(shape(exc), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        return shape(validation_error(list(exc.errors()), status=validation_status))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        detail = str(exc.detail)
        if exc.status_code == 405:
            allowed = allowed_methods(app, request)
            headers["Allow"] = ", ".join(allowed)
            detail = f"{request.method} is not allowed on {request.url.path}; use {' or '.join(allowed)}"
        error = ServiceError(detail, status=exc.status_code, code=_HTTP_CODES.get(exc.status_code, "http_error"))
        return _with_headers(shape(error), headers)

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error")
        return shape(ServiceError("internal error in the job service; see its log", status=500, code="internal"))


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route of `app` answers at the request's path (Starlette's 405 names only the first route's)."""
    methods: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods
    return sorted(methods)


def _with_headers(response: Response, headers: dict[str, str] | None) -> Response:
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response
