"""Clients shared within a process: every user of the same key (an Airflow connection, a Prefect block) in one
event loop gets the same client, and with it one HTTP pool and one watcher, so that many waiting tasks cost what one
costs. The client is closed when its last user leaves."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Hashable
from dataclasses import dataclass
from typing import Any

from jobnode.client._async import AsyncClient


@dataclass
class _Shared:
    ready: asyncio.Task[AsyncClient]
    users: int = 0


_SHARED: dict[tuple[Hashable, asyncio.AbstractEventLoop], _Shared] = {}


@contextlib.asynccontextmanager
async def shared_client(
    key: Hashable, connect: Callable[[], Coroutine[Any, Any, AsyncClient]]
) -> AsyncIterator[AsyncClient]:
    """The client shared under `key` in this event loop, built by `connect` for its first user and closed when its
    last user leaves. A `connect` that fails is tried again by the next user.

    Example:
        ```python
        async with shared_client("jobnode_default", connect) as client:
            job = await client.jobs.wait(job_id)
        ```
    """
    loop = asyncio.get_running_loop()
    slot = (key, loop)
    shared = _SHARED.get(slot)
    if shared is None:
        shared = _SHARED[slot] = _Shared(loop.create_task(connect()))
    shared.users += 1
    try:
        # shielded: a user that is cancelled while the client is being built does not cancel it for the others
        yield await asyncio.shield(shared.ready)
    finally:
        shared.users -= 1
        if shared.users == 0 and _SHARED.get(slot) is shared:
            del _SHARED[slot]
            await _close(shared)


async def _close(shared: _Shared) -> None:
    if not shared.ready.done() or shared.ready.cancelled() or shared.ready.exception() is not None:
        shared.ready.cancel()
        return
    await shared.ready.result().aclose()
