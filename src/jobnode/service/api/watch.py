"""`/v1/watch`: server-sent events, one per change of the named jobs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from jobnode.service.api.common import Jobs, base_url, native_router, responses
from jobnode.service.api.jobs import IDS_PATTERN, id_list
from jobnode.service.errors import NotFound
from jobnode.service.jobs import MAX_IDS
from jobnode.service.views import JobRecord

router = native_router(tags=["jobs"])

#: seconds between two heartbeat comments of a quiet stream
HEARTBEAT = 15.0


def _events(records: list[JobRecord], base: str) -> str:
    return "".join(
        f"event: job\ndata: {json.dumps(r.to_json(base), separators=(',', ':'), ensure_ascii=False)}\n\n"
        for r in records
    )


@router.get("/v1/watch", responses=responses(404, media_type="text/event-stream"))
async def watch(
    request: Request,
    jobs: Jobs,
    ids: str = Query(
        ..., description=f"comma-separated job ids, at most {MAX_IDS}", json_schema_extra={"pattern": IDS_PATTERN}
    ),
) -> Response:
    """Server-sent events: the named jobs now, then one `job` event per change of state or progress.

    The stream ends once every named job has ended; a comment line is sent as a heartbeat.
    """
    wanted = set(id_list(ids))
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
