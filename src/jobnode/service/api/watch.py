"""`/v1/watch`: server-sent events, one per change of the named jobs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from jobnode.service.api.common import Jobs, base_url
from jobnode.service.errors import InvalidRequest, NotFound
from jobnode.service.jobs import MAX_IDS
from jobnode.service.views import JobRecord

router = APIRouter(tags=["jobs"])

#: seconds between two heartbeat comments of a quiet stream
HEARTBEAT = 15.0


def _events(records: list[JobRecord], base: str) -> str:
    return "".join(
        f"event: job\ndata: {json.dumps(r.to_json(base), separators=(',', ':'), ensure_ascii=False)}\n\n"
        for r in records
    )


@router.get("/v1/watch")
async def watch(request: Request, jobs: Jobs, ids: str = Query(..., description="comma-separated job ids")) -> Response:
    """Server-sent events: the named jobs now, then one `job` event per change of state or progress.

    The stream ends once every named job has ended; a comment line is sent as a heartbeat.
    """
    wanted = {i.strip() for i in ids.split(",") if i.strip()}
    if not wanted:
        raise InvalidRequest("ids", "name at least one job id")
    if len(wanted) > MAX_IDS:
        raise InvalidRequest("ids", f"at most {MAX_IDS} ids in one stream")
    base = base_url(request)
    heartbeat = getattr(request.app.state, "heartbeat", HEARTBEAT)
    # subscribe before reading: a change between the read and the subscription would otherwise be lost
    subscription = jobs.subscribe(sorted(wanted))
    await subscription.__aenter__()
    try:
        records = await run_in_threadpool(jobs.get_many, sorted(wanted))
        missing = wanted - {r.id for r in records}
        if missing:
            names = ", ".join(sorted(missing)[:10])
            raise NotFound(f"ids: no job(s) {names}", details={"field": "ids", "missing": sorted(missing)})
    except BaseException:
        await subscription.__aexit__(None, None, None)
        raise

    async def stream() -> AsyncIterator[str]:
        try:
            ended = {r.id for r in records if r.is_terminal}
            yield await run_in_threadpool(_events, records, base)
            while not wanted <= ended:
                changed = await subscription.next(timeout=heartbeat)
                if not changed:
                    yield ": heartbeat\n\n"
                    continue
                fresh = await run_in_threadpool(jobs.get_many, sorted(changed))
                ended |= {r.id for r in fresh if r.is_terminal}
                yield await run_in_threadpool(_events, fresh, base)
        finally:
            await subscription.__aexit__(None, None, None)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
