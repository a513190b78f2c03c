"""Rendering the console's pages: the Jinja2 templates, their filters, HTML answers and errors, and forms.

Jinja2 because it escapes everything it renders unless told otherwise (job names, log messages and item labels are
user data), has template inheritance for one layout, and is a well-kept library already used by Airflow and
Prefect; the pages need no front-end build chain.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from jobnode.service.console.sessions import Session
from jobnode.service.errors import JobDeleted, ServiceError
from jobnode.service.views import CONSOLE_PATH

#: the largest form the console reads (its forms hold a few short fields)
MAX_FORM_BYTES = 64 * 1024


def when(ts: float | None) -> str:
    """An epoch time for people: `2026-01-02 03:04:05 UTC`."""
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def entry_time(micros: int) -> str:
    """A log entry's time (integer microseconds since the epoch) to the millisecond: `2026-01-02 03:04:05.678`."""
    return datetime.fromtimestamp(micros / 1_000_000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def iso(ts: float | None) -> str:
    """An epoch time for a `<time datetime=...>` attribute."""
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def duration(seconds: float | None) -> str:
    """`850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def number(value: int | float | None) -> str:
    return "—" if value is None else f"{value:,}"


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def compact(value: Any, most: int = 300) -> str:
    """A value as one line of JSON, cut at `most` characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= most else text[: most - 1] + "…"


def query(params: dict[str, Any]) -> str:
    """A query string of the parameters that have a value (`?a=1&b=x`, or "" when none has)."""
    kept = {k: v for k, v in params.items() if v not in (None, "", False)}
    return "?" + urlencode(kept) if kept else ""


ENV = Environment(
    loader=PackageLoader("jobnode.service.console", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(
    when=when, entry_time=entry_time, iso=iso, duration=duration, number=number, pretty=pretty, compact=compact
)
ENV.globals.update(ui=CONSOLE_PATH, query=query)


def render(template: str, **context: Any) -> str:
    """A template (a page or a fragment of one) as HTML text."""
    return ENV.get_template(template).render(**context)


def session_of(request: Request) -> Session | None:
    """The visitor's session (the console's gate put it in the request's state)."""
    session: Session | None = request.state.session
    return session


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A whole page: `template` with what the layout needs (the CSRF token, whether to offer logging out)."""
    session = session_of(request)
    sessions = request.app.state.sessions
    html = render(
        template,
        csrf=session.csrf if session else "",
        can_log_out=session is not None and sessions.needs_login,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def error_page(error: ServiceError) -> Response:
    """A refusal as a page (the console's error shape): what went wrong and where to go from there."""
    tombstone = error.details if isinstance(error, JobDeleted) and isinstance(error.details, dict) else None
    html = render(
        "error.html", status=error.status, message=error.message, tombstone=tombstone, csrf="", can_log_out=False
    )
    return HTMLResponse(html, status_code=error.status, headers=error.headers)


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


async def read_form(request: Request) -> dict[str, str]:
    """A URL-encoded form (the only kind the console's pages send); a field given twice keeps its last value."""
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise ServiceError("send the console's forms as application/x-www-form-urlencoded", status=415)
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise ServiceError(f"a console form is at most {MAX_FORM_BYTES:,} bytes", status=413, code="too_large")
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        raise ServiceError("the form is not valid URL-encoded UTF-8", status=400) from None


async def checked_form(request: Request) -> dict[str, str]:
    """The form of an action, once its CSRF token has been checked against the session's."""
    form = await read_form(request)
    session = session_of(request)
    if session is None or not session.csrf_matches(form.get("csrf")):
        raise Forbidden("this form has expired or did not come from the console; reload the page and try again")
    return form


def local_path(target: str | None, default: str) -> str:
    """`target` when it is a path of the console (a safe place to send the browser back to), else `default`."""
    if target and target.startswith(CONSOLE_PATH + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
