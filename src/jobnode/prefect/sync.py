"""Running jobnode's async Prefect code from sync code (the sync twins of the tasks, sync hooks)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

#: how often the loop of a sync twin wakes up, so that an exception Prefect injects into the thread lands promptly
WAKE_EVERY = 0.2


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end from sync code, with the caller's context (the Prefect run, its transaction).

    In a thread without an event loop it runs right here, so that a Prefect timeout or cancellation interrupting
    the thread cancels the coroutine (which then cancels the remote job it waits for); under a running loop (a sync
    task called from an async flow) it runs on a helper thread instead of blocking on that loop.

    Prefect interrupts a worker thread (or the main thread, when something else owns SIGALRM) by injecting an
    exception, which lands only when the thread runs Python code; a loop waiting on a quiet stream would not run any
    for a long time, so the loop wakes up every `WAKE_EVERY` seconds.

    Example:
        ```python
        job = run_sync(submit_job.fn(spec))
        ```
    """
    if not _loop_running():
        return asyncio.run(_awake(coro))
    context = contextvars.copy_context()
    with ThreadPoolExecutor(1, thread_name_prefix="jobnode-prefect") as pool:
        return pool.submit(context.run, asyncio.run, _awake(coro)).result()


async def _awake(coro: Coroutine[Any, Any, T]) -> T:
    task = asyncio.ensure_future(coro)
    while not task.done():
        await asyncio.wait([task], timeout=WAKE_EVERY)
    return task.result()


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
