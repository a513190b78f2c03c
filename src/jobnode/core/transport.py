"""The HTTP transport every backend uses: one pooled async httpx client, timeouts, retries, auth, errors.

Retries: connect errors, 429 and 5xx are retried with exponential backoff and full jitter, honouring
`Retry-After`. A request that is not idempotent (POST, PATCH) is retried only when it carries an idempotency
key, or when the connection failed before anything was sent. `RetryPolicy` is the one backoff policy of jobnode:
the transport, the waits and the local service's webhook delivery use it.

URLs may carry secrets (a user and password, a signature in the query string): importing this module makes httpx's
own request log (`HTTP Request: POST https://...`, logged at INFO) show them without user info and with every query
value masked (`redact_url`), in every process that uses jobnode.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import logging
import random
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from jobnode.core.errors import APIError, TransportError, error_class_for
from jobnode.core.ratelimit import RequestLimiter

log = logging.getLogger("jobnode.transport")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
IDEMPOTENCY_HEADER = "Idempotency-Key"


#: jobnode's own source of jitter: drawing from it leaves the `random` module's shared state (which a program may have
#: seeded for its own reasons) alone
_JITTER = random.Random()


def jitter(low: float, high: float) -> float:
    """A random number between `low` and `high`, for spreading retries and looks over time."""
    return _JITTER.uniform(low, high)


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried."""

    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 300.0
    statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 500, 502, 503, 504}))

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff before retry number `attempt` (1-based)."""
        cap = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return jitter(cap / 2, cap)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt`: the backoff, or longer when the server asked for longer
        (`Retry-After`, capped at `retry_after_max`).

        Example:
            ```python
            RetryPolicy(backoff_base=0.5).delay(3, retry_after=10.0)  # 10.0
            ```
        """
        wait = self.backoff(attempt)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.retry_after_max))
        return wait


NO_RETRY = RetryPolicy(max_attempts=1)

ErrorParser = Callable[[httpx.Response], tuple[str, str | None, Any]]


def parse_error_body(response: httpx.Response) -> tuple[str, str | None, Any]:
    """(message, code, details) from the common error body shapes."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return (text[:500] or response.reason_phrase or "no message"), None, None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return str(err.get("message") or body), err.get("code"), err.get("details")
        for key in ("message", "detail", "title", "error"):
            if body.get(key):
                return str(body[key]), None, body
    return str(body)[:500], None, body


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The `Retry-After` header as seconds (it may be a number or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def redact_url(url: str | httpx.URL) -> str:
    """A URL fit for logs and errors: no user or password, every query value masked, no fragment.

    Example:
        ```python
        redact_url("https://user:pw@example.com/hook?sig=abc&v=2")  # "https://example.com/hook?sig=***&v=***"
        ```
    """
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    query = "&".join(f"{name}=***" for name, _ in parse_qsl(parts.query, keep_blank_values=True))
    return f"{parts.scheme}://{host}{parts.path}" + (f"?{query}" if query else "")


class _RedactURLs(logging.Filter):
    """Redacts the URLs of httpx's log records (its request line logs the URL as given, secrets and all)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(redact_url(a) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


logging.getLogger("httpx").addFilter(_RedactURLs())


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One verifying SSL context for every client: building one loads the CA bundle (tens of milliseconds)."""
    return httpx.create_ssl_context()


class BearerAuth(httpx.Auth):
    """`Authorization: Bearer <token>`; the token never appears in a repr, a log or an error."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request):  # type: ignore[no-untyped-def]
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(token=***)"


class HeaderAuth(httpx.Auth):
    """A secret sent in a header of the platform's choosing (`Secret-Key`, `x-api-key`)."""

    def __init__(self, header: str, secret: str) -> None:
        self._header = header
        self._secret = secret

    def auth_flow(self, request: httpx.Request):  # type: ignore[no-untyped-def]
        request.headers[self._header] = self._secret
        yield request

    def __repr__(self) -> str:
        return f"HeaderAuth({self._header}=***)"


class Transport:
    """An async HTTP transport with pooling, retries and uniform errors.

    Example:
        ```python
        transport = Transport("http://127.0.0.1:8765", auth=BearerAuth("s3cret"))
        response = await transport.request("GET", "/v1/jobs")
        ```
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout = 30.0,
        retry: RetryPolicy | None = None,
        platform: str = "local",
        error_parser: ErrorParser = parse_error_body,
        limits: httpx.Limits | None = None,
        http: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        limiter: RequestLimiter | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        #: keeps this connection within the platform's limits (shared by every request of this transport)
        self.limiter = limiter
        self.platform = platform
        self.retry = retry or RetryPolicy()
        self._error_parser = error_parser
        self._sleep = sleep
        self._owns_http = http is None
        # every connection of the pool is kept alive between requests (idle ones close after httpx's 5 s): a burst of
        # concurrent calls wider than httpx's default 20 would otherwise open new connections again and again
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=100)
        #: how many connections the pool holds (None when the caller brought its own client)
        self._pool_size = limits.max_connections if http is None else None
        self.http = http or httpx.AsyncClient(
            base_url=self.base_url,
            auth=auth,
            headers={"User-Agent": "jobnode", **(headers or {})},
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout, connect=10.0),
            limits=limits,
            verify=shared_ssl_context(),
        )

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    def _may_retry(self, method: str, headers: Mapping[str, str] | None, retry_unsafe: bool) -> bool:
        if method.upper() in IDEMPOTENT_METHODS or retry_unsafe:
            return True
        return bool(headers and any(k.lower() == IDEMPOTENCY_HEADER.lower() for k in headers))

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        retry_unsafe: bool = False,
    ) -> httpx.Response:
        """Send a request and return a successful response, or raise an `APIError` / `TransportError`.

        `retry_unsafe=True` declares a POST or PATCH safe to repeat (it is idempotent on the server).
        """
        may_retry = self._may_retry(method, headers, retry_unsafe)
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            attempt += 1
            last_attempt = attempt >= self.retry.max_attempts
            try:
                # no params at all (not {}) keeps a query already in `url` (httpx drops it for empty params)
                async with self._slot():
                    response = await self.http.request(
                        method, url, params=clean_params or None, json=json, content=content, headers=headers
                    )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Nothing reached the server: always safe to retry.
                if last_attempt:
                    raise TransportError(self._failed(method, url, exc)) from exc
                await self._wait(attempt, None, f"{type(exc).__name__}")
                continue
            except httpx.TransportError as exc:
                if last_attempt or not may_retry:
                    raise TransportError(self._failed(method, url, exc)) from exc
                await self._wait(attempt, None, f"{type(exc).__name__}")
                continue
            if response.status_code < 400:
                return response
            if response.status_code == 429 and self.limiter is not None:
                # the platform is over its limit for this caller: slow the whole connection, not just this request
                self.limiter.pause(retry_after_seconds(response) or self.retry.backoff(attempt))
            if response.status_code in self.retry.statuses and may_retry and not last_attempt:
                await response.aread()
                await self._wait(attempt, retry_after_seconds(response), f"HTTP {response.status_code}")
                continue
            await response.aread()
            raise self.to_error(response)

    @asynccontextmanager
    async def stream(
        self, method: str, url: str, *, params: Mapping[str, Any] | None = None, timeout: httpx.Timeout | None = None
    ) -> AsyncIterator[httpx.Response]:
        """A streaming response (server-sent events); errors are raised before the body is read."""
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        kwargs: dict[str, Any] = {"params": clean_params}
        if timeout is not None:
            kwargs["timeout"] = timeout
        if self.limiter is not None:
            await self.limiter.admit()
        try:
            async with self.http.stream(method, url, **kwargs) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise self.to_error(response)
                yield response
        except httpx.TransportError as exc:
            raise TransportError(self._failed(method, url, exc)) from exc

    async def resumable_lines(self, url: str, *, skip: int = 0) -> AsyncIterator[str]:
        """The non-empty lines of a JSON-lines resource that takes a `skip` query parameter (lines to leave out).

        A read cut short by a transient failure (a reset connection, 429, a 5xx) is retried with backoff from the
        line it stopped at, so no line is lost or repeated; other errors are raised.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self.stream("GET", url, params={"skip": skip or None}) as response:
                    async for line in response.aiter_lines():
                        if line:
                            skip += 1
                            attempt = 0
                            yield line
                return
            except (TransportError, APIError) as exc:
                retry_after = exc.retry_after if isinstance(exc, APIError) else None
                if attempt >= self.retry.max_attempts or not is_transient(exc):
                    raise
                await self._wait(attempt, retry_after, type(exc).__name__)

    def _slot(self) -> AbstractAsyncContextManager[None]:
        return self.limiter.slot() if self.limiter is not None else contextlib.nullcontext()

    def to_error(self, response: httpx.Response) -> APIError:
        message, code, details = self._error_parser(response)
        cls = error_class_for(response.status_code)
        return cls(
            message,
            status_code=response.status_code,
            code=code,
            details=details,
            platform=self.platform,
            retry_after=retry_after_seconds(response),
        )

    def _failed(self, method: str, url: str, exc: Exception) -> str:
        """What went wrong on the way to the platform, and what to do: a busy pool or a slow answer is not a
        service that cannot be reached."""
        where = f"the {self.platform} service at {self.base_url}"
        timeout = self.http.timeout
        if isinstance(exc, httpx.PoolTimeout):
            pool = f"{self._pool_size} pooled connections" if self._pool_size else "pooled connections"
            return (
                f"no free connection to {where} within {timeout.pool}s ({method} {url}): all of this client's {pool} "
                "stayed busy (open streams or requests); the service was not asked. Send fewer requests at once on "
                "one client, or raise the timeout"
            )
        if isinstance(exc, httpx.ConnectTimeout):
            return (
                f"{where} did not accept a connection within {timeout.connect}s ({method} {url}); check the URL "
                "and that the network reaches it"
            )
        if isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout):
            seconds = timeout.read if isinstance(exc, httpx.ReadTimeout) else timeout.write
            return (
                f"{where} did not answer {method} {url} within {seconds}s; it may be overloaded: try again, or "
                "raise the timeout setting"
            )
        if isinstance(exc, httpx.ConnectError):
            return (
                f"could not reach {where} ({method} {url}): {str(exc) or 'connection refused'}; check that it is "
                "running and the URL is right"
            )
        return (
            f"the connection to {where} broke during {method} {url}: {type(exc).__name__}: {str(exc) or 'no detail'}; "
            "check that it is running and try again (its log says why if it goes on)"
        )

    async def _wait(self, attempt: int, retry_after: float | None, why: str) -> None:
        delay = self.retry.delay(attempt, retry_after)
        log.info("%s: %s, retry %d in %.2fs", self.platform, why, attempt, delay)
        await self._sleep(delay)


def is_transient(exc: BaseException) -> bool:
    """Whether an error is worth waiting out (the service is down or busy) rather than failing on."""
    if isinstance(exc, TransportError):
        return True
    return isinstance(exc, APIError) and (exc.status_code == 429 or exc.status_code >= 500)
