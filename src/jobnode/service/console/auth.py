"""Who may see the console and act through it: the gate in front of every page, and logging in and out.

- With a token, a visitor logs in once on `/ui/login` by giving it (a form post: the token is never in a URL); the
  answer sets an HttpOnly, SameSite=Strict session cookie. Without a token, the service listens only on loopback
  and every visitor gets a session at once.
- An address that gives a wrong token ten times in a minute is refused (429) for the rest of that minute.
- Every action is a POST that carries the session's CSRF token, and a POST whose `Origin` (or `Sec-Fetch-Site`) says
  it came from another site is refused before it reaches a route.
- A SameSite=Strict cookie does not travel with a navigation from another site (the Airflow link, a Prefect
  artifact): such a visit gets a page that loads the same address again from this site, with the cookie.
- Every answer says that it may not be framed, cached or sniffed, and that its scripts and styles come only from
  the console itself (CSP).
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobnode.service.console.pages import checked_form, local_path, page, read_form, render, session_of
from jobnode.service.console.sessions import LoginThrottle, Session, Sessions
from jobnode.service.views import CONSOLE_PATH

LOGIN = f"{CONSOLE_PATH}/login"
STATIC = f"{CONSOLE_PATH}/static/"
HOME = f"{CONSOLE_PATH}/jobs"

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}

router = APIRouter()


def cookie_name(scope: Scope) -> str:
    """The session cookie's name, with the port: cookies do not tell ports apart, and two services on one host
    must not overwrite each other's sessions."""
    server = scope.get("server")
    return f"jobnode_console_{server[1]}" if server and server[1] else "jobnode_console"


def session_cookie(scope: Scope, value: str, *, max_age: int | None = None) -> str:
    secure = "; Secure" if scope.get("scheme") == "https" else ""
    age = f"; Max-Age={max_age}" if max_age is not None else ""
    return f"{cookie_name(scope)}={value}; Path={CONSOLE_PATH}; HttpOnly; SameSite=Strict{age}{secure}"


def same_origin(scope: Scope, headers: Headers) -> bool:
    """Whether a request that changes something came from the console's own pages (or from no page at all, as a
    script's request does: those still need the session's cookie and CSRF token)."""
    origin = headers.get("origin")
    if origin is not None:
        return origin == f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"
    return headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


class Gate:
    """Puts the visitor's session in the request's state; opens one at once when the service has no token; sends
    a visitor without one to the login page (pages) or answers 401 (streams, fragments); refuses cross-site POSTs;
    adds the security headers and any new session cookie to every answer."""

    def __init__(self, app: ASGIApp, sessions: Sessions) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cookies = cookie_parser(headers.get("cookie", ""))
        session = self.sessions.find(cookies.get(cookie_name(scope)))
        fresh: Session | None = None
        if session is None and not self.sessions.needs_login:
            session = fresh = self.sessions.open()
        scope.setdefault("state", {})["session"] = session
        path: str = scope["path"]
        refusal = self._refusal(scope, headers, session, path)
        if refusal is not None:
            await refusal(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    out.setdefault(key, value)
                if not path.startswith(STATIC):
                    out.setdefault("cache-control", "no-store")
                if fresh is not None:
                    out.append("set-cookie", session_cookie(scope, fresh.id))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope, headers: Headers, session: Session | None, path: str) -> Response | None:
        method = scope["method"]
        if method not in ("GET", "HEAD") and not same_origin(scope, headers):
            return Response("this request came from another site", status_code=403, headers=SECURITY_HEADERS)
        if session is not None or path == LOGIN or path.startswith(STATIC):
            return None
        if method in ("GET", "HEAD") and "text/html" in headers.get("accept", ""):
            if headers.get("sec-fetch-site") == "cross-site":
                # the cookie stays behind on a navigation from another site; the same address, loaded again from
                # here, carries it
                html = render("bounce.html", target=_here(scope))
                return Response(html, media_type="text/html", headers={**SECURITY_HEADERS, "cache-control": "no-store"})
            location = f"{LOGIN}?next={quote(_here(scope), safe='')}"
            return RedirectResponse(location, status_code=303, headers=SECURITY_HEADERS)
        return Response(
            "log in to the console first", status_code=401, media_type="text/plain", headers=SECURITY_HEADERS
        )


def _here(scope: Scope) -> str:
    qs = scope.get("query_string", b"").decode("latin-1")
    path: str = scope["path"]
    return path + (f"?{qs}" if qs else "")


def _client_address(request: Request) -> str:
    return request.client.host if request.client else ""


@router.get(LOGIN)
def login_page(request: Request, next: str | None = None) -> Response:
    """The login form (a service without a token needs none: its visitors go straight to the jobs)."""
    target = local_path(next, HOME)
    if session_of(request) is not None:
        return RedirectResponse(target, status_code=303)
    return page(request, "login.html", next=target, failed=False)


@router.post(LOGIN)
async def log_in(request: Request) -> Response:
    """Check the token given in the form; open a session and set its cookie."""
    sessions: Sessions = request.app.state.sessions
    throttle: LoginThrottle = request.app.state.login_throttle
    form = await read_form(request)
    target = local_path(form.get("next"), HOME)
    if not sessions.needs_login:
        return RedirectResponse(target, status_code=303)
    address = _client_address(request)
    wait = throttle.wait(address)
    if wait > 0:
        seconds = max(1, round(wait))
        refused = page(request, "login.html", status=429, next=target, failed=False, wait=seconds)
        refused.headers["retry-after"] = str(seconds)
        return refused
    if not sessions.token_matches(form.get("token", "")):
        throttle.failed(address)
        return page(request, "login.html", status=401, next=target, failed=True)
    old = session_of(request)
    if old is not None:
        sessions.close(old.id)
    session = sessions.open()
    response = RedirectResponse(target, status_code=303)
    response.headers.append("set-cookie", session_cookie(request.scope, session.id))
    return response


@router.post(f"{CONSOLE_PATH}/logout")
async def log_out(request: Request) -> Response:
    """End the session and forget its cookie."""
    await checked_form(request)
    session = session_of(request)
    if session is not None:
        request.app.state.sessions.close(session.id)
    response = RedirectResponse(LOGIN, status_code=303)
    response.headers.append("set-cookie", session_cookie(request.scope, "", max_age=0))
    return response
