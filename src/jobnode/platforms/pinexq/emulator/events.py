"""The event stream (`Info` links it as `ApiEventsEndpoint`): one server-sent event per change of a job, and a
keep-alive event with empty data every `KEEPALIVE` seconds.

An event's data is `{"EventType": "Changed" | "Deleted", "ResourceType": "Job", "ResourceLink": <the job's self
URL>}`; PinexQ's SDK wakes the waiter of that URL, which then reads the job. Keep-alives are events (`event:
KeepAlive`, empty `data`), not comments: the SDK reads its stream with httpx's default 5-second read timeout, and
its event thread only ever stops when an event arrives, so a quiet stream would break its waits and its shutdown.

Changes come from two places: the engine (a job starts, progresses, ends), through the service's subscription,
and the emulator's own actions (a job created, selected, tagged, deleted), through `EventHub`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from jobnode.platforms.pinexq.emulator.hypermedia import Urls, base_url
from jobnode.platforms.pinexq.siren import EVENT_STREAM
from jobnode.platforms.pinexq.wire import ApiEvent

if TYPE_CHECKING:
    from jobnode.platforms.pinexq.emulator.context import PinexQ

router = APIRouter(tags=["events"])

#: the `EventType` of a changed job and of a deleted one
CHANGED, DELETED = "Changed", "Deleted"
#: seconds between two keep-alive events (well under the 5-second read timeout of PinexQ's SDK)
KEEPALIVE = 2.0
_KEEPALIVE_EVENT = "event: KeepAlive\ndata:\n\n"


class EventHub:
    """Fans out `(job id, event type)` notices, published from any thread, to subscribers on event loops.

    Example:
        ```python
        async with hub.subscribe() as notices:
            job_id, event_type = await notices.get()
        ```
    """

    def __init__(self) -> None:
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[tuple[str, str]]]] = set()
        self._lock = threading.Lock()

    def publish(self, job_id: str, event_type: str = CHANGED) -> None:
        """Called from any thread once a change is committed."""
        with self._lock:
            subscribers = list(self._subscribers)
        for loop, queue in subscribers:
            if not loop.is_closed():
                loop.call_soon_threadsafe(queue.put_nowait, (job_id, event_type))

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[tuple[str, str]]]:
        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            self._subscribers.add(entry)
        try:
            yield queue
        finally:
            with self._lock:
                self._subscribers.discard(entry)


def _event(job_url: str, event_type: str) -> str:
    data = ApiEvent(event_type=event_type, resource_type="Job", resource_link=job_url).model_dump_json(by_alias=True)
    return f"event: {event_type}\ndata: {data}\n\n"


async def _forward_engine_changes(pinexq: PinexQ, notices: asyncio.Queue[tuple[str, str]]) -> None:
    """The engine's changes, as notices of the PinexQ jobs its jobs run (other engine jobs are not PinexQ's)."""
    async with pinexq.service.subscribe() as changes:
        while True:
            changed = sorted(await changes.next())
            for job_id in await run_in_threadpool(pinexq.jobs_of_runs, changed):
                notices.put_nowait((job_id, CHANGED))


@router.get("/api/events")
async def events(request: Request) -> Response:
    pinexq: PinexQ = request.app.state.pinexq
    urls = Urls(base_url(request))
    keepalive: float = getattr(request.app.state, "keepalive", KEEPALIVE)

    async def stream() -> AsyncIterator[str]:
        async with pinexq.hub.subscribe() as notices:
            forward = asyncio.create_task(_forward_engine_changes(pinexq, notices))
            try:
                yield _KEEPALIVE_EVENT
                while True:
                    try:
                        first = await asyncio.wait_for(notices.get(), keepalive)
                    except TimeoutError:
                        yield _KEEPALIVE_EVENT
                        continue
                    batch = {first}
                    while not notices.empty():
                        batch.add(notices.get_nowait())
                    yield "".join(_event(urls.job(job_id), kind) for job_id, kind in sorted(batch))
            finally:
                forward.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await forward

    return StreamingResponse(stream(), media_type=EVENT_STREAM, headers={"Cache-Control": "no-store"})
