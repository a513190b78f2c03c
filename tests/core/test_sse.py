from __future__ import annotations

import httpx

from jobnode.core.sse import iter_sse


async def test_parses_events_and_skips_heartbeats() -> None:
    body = b': heartbeat\n\nevent: job\ndata: {"a": 1}\n\nid: 7\ndata: line1\ndata: line2\n\n'
    response = httpx.Response(200, content=body)
    events = [e async for e in iter_sse(response)]
    assert [(e.event, e.data, e.id) for e in events] == [("job", '{"a": 1}', None), ("message", "line1\nline2", "7")]
