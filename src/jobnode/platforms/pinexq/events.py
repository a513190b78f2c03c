"""PinexQ's event stream, read as the ids of the jobs that changed (one stream for many jobs' waits)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from httpx_sse import EventSource
from pydantic import ValidationError

from jobnode.core.errors import JobnodeError, TransportError
from jobnode.core.transport import Transport
from jobnode.platforms.pinexq import mapping, wire
from jobnode.platforms.pinexq.siren import EVENT_STREAM

#: seconds without a byte (keep-alives included) after which the event stream counts as dropped
EVENT_READ_TIMEOUT = 15.0
#: seconds an event waits for the events that come with it
EVENT_SETTLE = 0.05


class StreamEnded(TransportError):
    """The event stream ended (the platform closed it)."""


@asynccontextmanager
async def job_changes(transport: Transport, href: str, timeout: float) -> AsyncIterator[JobChanges]:
    """The event stream at `href`, read in the background into the ids of the jobs that changed."""
    async with transport.stream("GET", href, timeout=httpx.Timeout(timeout, read=EVENT_READ_TIMEOUT)) as response:
        if EVENT_STREAM not in response.headers.get("content-type", ""):
            raise JobnodeError(f"PinexQ's event stream at {href} is not {EVENT_STREAM}")
        changes = JobChanges()
        reader = asyncio.create_task(changes.read(response))
        try:
            yield changes
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


class JobChanges:
    """The ids of the jobs the event stream says changed, gathered until taken."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[set[str] | BaseException] = asyncio.Queue()

    async def read(self, response: httpx.Response) -> None:
        try:
            async for event in EventSource(response).aiter_sse():
                if not event.data.strip():
                    continue  # a keep-alive
                try:
                    parsed = wire.ApiEvent.model_validate_json(event.data)
                except ValidationError:
                    continue
                if parsed.resource_type == "Job":
                    self._queue.put_nowait({mapping.resource_id(parsed.resource_link)})
            self._queue.put_nowait(StreamEnded("PinexQ closed its event stream"))
        except httpx.TransportError as exc:
            self._queue.put_nowait(TransportError(f"PinexQ's event stream dropped: {exc!r}"))

    async def next(self) -> set[str]:
        """The jobs that changed since the last call (waiting for one, then `EVENT_SETTLE` seconds for the events
        that come with it: jobs that end together are read together)."""
        changed: set[str] = set()
        item = await self._queue.get()
        await asyncio.sleep(EVENT_SETTLE)
        while True:
            if isinstance(item, BaseException):
                raise item
            changed |= item
            if self._queue.empty():
                return changed
            item = self._queue.get_nowait()
