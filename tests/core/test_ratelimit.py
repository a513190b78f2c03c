"""The per-connection request limiter: a rate with bursts of one second's worth, a cap on requests in flight, and a
429's `Retry-After` holding every request of the connection."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from jobnode.core.ratelimit import RequestLimiter
from jobnode.core.transport import RetryPolicy, Transport
from tests.helpers import eventually


async def test_a_burst_beyond_the_rate_waits_for_tokens() -> None:
    limiter = RequestLimiter(rate=20.0)
    for _ in range(25):
        async with limiter.slot():
            pass
    assert limiter.admitted == 25
    assert limiter.delayed == 7  # the first second's worth (18: a tenth under 20) went at once; the rest waited


async def test_requests_in_flight_never_exceed_the_cap() -> None:
    limiter = RequestLimiter(concurrency=3)
    inside = peak = 0

    async def request() -> None:
        nonlocal inside, peak
        async with limiter.slot():
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(request() for _ in range(12)))
    assert peak == 3


async def test_a_pause_holds_the_next_request() -> None:
    limiter = RequestLimiter(rate=1000.0)
    limiter.pause(0.05)
    async with limiter.slot():
        pass
    assert limiter.delayed == 1


@pytest.mark.parametrize(("rate", "concurrency"), [(0, None), (-1.0, None), (None, 0)])
def test_nonsense_limits_are_refused_naming_the_field(rate: float | None, concurrency: int | None) -> None:
    with pytest.raises(ValueError, match=r"^(rate|concurrency):"):
        RequestLimiter(rate=rate, concurrency=concurrency)


async def test_a_429_slows_the_whole_connection() -> None:
    """One request is refused with `Retry-After`; another request of the same connection, sent meanwhile, waits too."""
    refused = False

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal refused
        if request.url.path == "/jobs/1" and not refused:
            refused = True
            return httpx.Response(429, headers={"Retry-After": "1"})
        return httpx.Response(200)

    limiter = RequestLimiter(rate=1000.0)
    http = httpx.AsyncClient(base_url="http://platform.invalid", transport=httpx.MockTransport(answer))
    transport = Transport("http://platform.invalid", http=http, retry=RetryPolicy(max_attempts=3), limiter=limiter)
    first = asyncio.create_task(transport.request("GET", "/jobs/1"))
    await eventually(lambda: refused)
    assert (await transport.request("GET", "/jobs/2")).status_code == 200
    assert limiter.delayed >= 1  # the second request waited for the pause the 429 set on the connection
    assert (await first).status_code == 200  # and the refused one was retried
