"""Keeping one process's requests to a platform within the platform's limits: a rate (requests per second, as a token
bucket that allows bursts of one second's worth), a cap on requests in flight, and a pause of the whole connection
when the platform answers 429 with `Retry-After` (every request waits, not just the one that was refused).

The limiter keeps a tenth under the rate it is given: the platform counts requests when they arrive, and network
jitter would otherwise push a request sent exactly on time over the platform's line.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

#: the share of the given rate the limiter uses
SAFETY = 0.9


class RequestLimiter:
    """Admits requests to one platform from one process.

    Example:
        ```python
        limiter = RequestLimiter(rate=10.0, concurrency=4)
        async with limiter.slot():
            response = await http.get(url)
        if response.status_code == 429:
            limiter.pause(float(response.headers.get("Retry-After", 1)))
        ```

    Args:
        rate: requests per second (None: no limit).
        concurrency: requests in flight at once (None: no limit).
    """

    def __init__(self, rate: float | None = None, concurrency: int | None = None) -> None:
        if rate is not None and not rate > 0:
            raise ValueError("rate: give a number of requests per second above 0, or None for no limit")
        if concurrency is not None and concurrency < 1:
            raise ValueError("concurrency: give a number of requests at once of 1 or more, or None for no limit")
        self.rate = rate
        self.concurrency = concurrency
        self._rate = rate * SAFETY if rate is not None else None
        self._capacity = max(1.0, self._rate or 1.0)
        self._tokens = self._capacity
        self._filled = time.monotonic()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self._in_flight = asyncio.Semaphore(concurrency) if concurrency else None
        #: requests admitted, and how many had to wait for a token or a pause
        self.admitted = 0
        self.delayed = 0

    def pause(self, seconds: float) -> None:
        """Hold every request for `seconds` (the platform said so with `Retry-After`)."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def admit(self) -> None:
        """Wait for a token (a long-lived stream takes one to open, but holds no place while it lasts)."""
        async with self._lock:  # one waiter at a time takes the next token: requests leave evenly spaced
            waited = False
            while True:
                now = time.monotonic()
                if now < self._paused_until:
                    waited = True
                    await asyncio.sleep(self._paused_until - now)
                    continue
                if self._rate is None:
                    break
                self._tokens = min(self._capacity, self._tokens + (now - self._filled) * self._rate)
                self._filled = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    break
                waited = True
                await asyncio.sleep((1.0 - self._tokens) / self._rate)
            self.admitted += 1
            self.delayed += waited

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a token (and a free place when concurrency is capped), then hold the place while inside."""
        if self._in_flight is None:
            await self.admit()
            yield
            return
        async with self._in_flight:
            await self.admit()
            yield
