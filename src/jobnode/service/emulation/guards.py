"""What stands in front of each API of the service: the secret check (each platform sends its secret its own way),
a per-secret rate limit, the `Host` check of a service without a token, and the request-size limit.

All are plain ASGI middlewares: they never touch a response body, so large pages and event streams pass untouched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import math
import threading
import time
from collections.abc import Callable, Sequence

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobnode.service.emulation.errors import ErrorShape
from jobnode.service.errors import ServiceError, TooLarge

#: reads the secret a request carries (None when it carries none)
CredentialReader = Callable[[Headers], str | None]


def bearer(headers: Headers) -> str | None:
    """`Authorization: Bearer <secret>`."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def basic_user(headers: Headers) -> str | None:
    """The user name of `Authorization: Basic base64(<secret>:)` (an API key sent as the user, as Nucleus and
    Dataiku's clients do)."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, _ = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return user or None


def header(name: str) -> CredentialReader:
    """A header that holds the secret itself (`Secret-Key`, `x-api-key`, `X-DKU-APITicket`)."""

    def read(headers: Headers) -> str | None:
        return headers.get(name) or None

    return read


def any_of(*readers: CredentialReader) -> CredentialReader:
    """The first secret that one of `readers` finds."""

    def read(headers: Headers) -> str | None:
        for reader in readers:
            found = reader(headers)
            if found is not None:
                return found
        return None

    return read


def _is_public(path: str, public: Sequence[str]) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in public)


class SecretAuth:
    """Refuses requests whose secret is not the service's token (compared in constant time).

    `public` paths need none (a path that ends with `/` covers everything under it). The refusal is
    `refusal` (for example 401, or 403 where the platform answers so), rendered in the platform's `shape`.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str,
        read: CredentialReader,
        shape: ErrorShape,
        refusal: ServiceError,
        public: Sequence[str] = (),
    ) -> None:
        self.app = app
        self._token = token.encode()
        self._read = read
        self._shape = shape
        self._refusal = refusal
        self._public = tuple(public)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _is_public(scope["path"], self._public):
            given = self._read(Headers(scope=scope))
            if given is None or not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), self._token):
                await self._shape(self._refusal)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class RateLimiter:
    """A token bucket per key: `rate` requests per second, in bursts of up to `burst` (default `rate`)."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if not rate > 0:
            raise ValueError("rate: give a number of requests per second above 0")
        self.rate = rate
        self.capacity = max(1.0, burst if burst is not None else rate)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_needed(self, key: str) -> float:
        """Take a token; 0 when one was free, else the seconds until one will be."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


class RateLimit:
    """Answers 429 with `Retry-After` once a secret exceeds the limiter's rate (keys are hashes of the secrets)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        read: CredentialReader,
        shape: ErrorShape,
        public: Sequence[str] = (),
    ) -> None:
        self.app = app
        self._limiter = limiter
        self._read = read
        self._shape = shape
        self._public = tuple(public)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _is_public(scope["path"], self._public):
            secret = self._read(Headers(scope=scope)) or ""
            key = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
            wait = self._limiter.wait_needed(key)
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                error = ServiceError(
                    f"Too many requests: retry after {seconds}s",
                    status=429,
                    code="rate_limited",
                    headers={"Retry-After": str(seconds)},
                )
                response = self._shape(error)
                response.headers["Retry-After"] = str(seconds)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def loopback_host(host: str) -> bool:
    """Whether a `Host` header names this machine's loopback (`localhost`, `127.x.x.x`, `[::1]`, with any port)."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:].partition("]")[0]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class LoopbackHostOnly:
    """Refuses a request whose `Host` is not a loopback name: a service without a token is reachable only from this
    machine, and a web page cannot reach it through DNS rebinding (its requests carry the page's host name)."""

    def __init__(self, app: ASGIApp, *, shape: ErrorShape) -> None:
        self.app = app
        self._shape = shape

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = Headers(scope=scope).get("host", "")
            if not loopback_host(host):
                error = ServiceError(
                    "this service has no token, so it answers only requests addressed to localhost or 127.0.0.1; "
                    "use that address, or start it with --token",
                    status=421,
                    code="misdirected_request",
                    details={"field": "Host"},
                )
                await self._shape(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuses a request body larger than `max_bytes` with 413: at once when it says its length, else as soon as
    more arrives (the route reading it gets an `HTTPException(413)`, which the error handlers render)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, shape: ErrorShape) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._shape = shape

    def message(self) -> str:
        return (
            f"the request body is larger than this service accepts ({self.max_bytes:,} bytes); send less per "
            "request (split the items over several jobs, or read them from files) or raise --max-request-bytes"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            error = TooLarge(self.message(), details={"field": "body", "max_bytes": self.max_bytes})
            await self._shape(error)(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise StarletteHTTPException(status_code=413, detail=self.message())
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except StarletteHTTPException as exc:
            if exc.status_code != 413 or started:
                raise
            error = TooLarge(self.message(), details={"field": "body", "max_bytes": self.max_bytes})
            await self._shape(error)(scope, receive, send)


class Guarded:
    """An API behind its guards, with the error shape it answers in (so that what the service puts in front of it,
    such as the request-size limit, answers in that shape too)."""

    def __init__(self, app: ASGIApp, shape: ErrorShape) -> None:
        self.app = app
        self.shape = shape

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def guard(
    app: ASGIApp,
    *,
    shape: ErrorShape,
    token: str | None,
    read: CredentialReader,
    refusal: ServiceError | None = None,
    public: Sequence[str] = (),
    rate_limit: float | None = None,
) -> Guarded:
    """`app` behind the secret check (when there is a token) and the rate limit (when there is one).

    Example:
        ```python
        app = guard(app, shape=nexus_error, token=token, read=header("Secret-Key"), public=["/healthz"])
        ```
    """
    guarded: ASGIApp = app
    if rate_limit:
        guarded = RateLimit(guarded, limiter=RateLimiter(rate_limit), read=read, shape=shape, public=public)
    if token:
        refused = refusal or ServiceError("missing or wrong credentials", status=401, code="unauthorized")
        guarded = SecretAuth(guarded, token=token, read=read, shape=shape, refusal=refused, public=public)
    return Guarded(guarded, shape)
