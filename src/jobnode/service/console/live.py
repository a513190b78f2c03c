"""Live pages: server-sent events that carry freshly rendered parts of a page whenever the jobs they show change.

A stream subscribes to the service's change notifications before its first render (so no change falls in
between), renders at most once per `THROTTLE` seconds however fast the jobs change, sends only what differs from
what it sent last, and sends a comment as a heartbeat when nothing happens. The page's script swaps each part in
by its element id.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence

from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from jobnode.service.jobs import JobService

#: the shortest time between two renders of one stream
THROTTLE = 0.25
#: seconds between two heartbeat comments of a quiet stream
HEARTBEAT = 15.0

#: a render: the parts of the page by element id, and whether the stream is over (the job has ended)
Parts = tuple[dict[str, str], bool]


def event(name: str, data: object) -> str:
    """One server-sent event whose data is JSON (one line)."""
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'), ensure_ascii=False)}\n\n"


def follow(service: JobService, job_ids: Sequence[str] | None, render: Callable[[], Parts]) -> StreamingResponse:
    """A stream of the parts `render` makes (in a worker thread), again after each change of `job_ids` (every job
    when None), until `render` says the stream is over; it then sends an `end` event, which tells the page to stop
    listening rather than reconnect."""
    subscription = service.subscribe(job_ids)

    async def stream() -> AsyncIterator[str]:
        sent: dict[str, str] = {}
        async with subscription:
            while True:
                parts, over = await run_in_threadpool(render)
                changed = {key: html for key, html in parts.items() if sent.get(key) != html}
                if changed:
                    sent.update(changed)
                    yield event("parts", changed)
                if over:
                    yield event("end", {})
                    return
                while not await subscription.next(timeout=HEARTBEAT):
                    yield ": heartbeat\n\n"
                await asyncio.sleep(THROTTLE)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"cache-control": "no-store"})
