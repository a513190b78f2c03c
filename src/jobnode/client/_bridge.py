"""The one bridge from synchronous code to jobnode's async code: a `Portal`, an event loop in a daemon thread that
runs coroutines for sync callers. The sync `Client` keeps one for its lifetime; `run_sync` opens one for a single
coroutine (Prefect's sync task twins and hooks).

A coroutine runs with the caller's context variables (Prefect's run context, its transaction). The caller waits in
short slices, so that an exception injected into its thread (Prefect's timeouts and cancellations interrupt a worker
thread that way) or a signal handler's (Airflow's `execution_timeout`) lands promptly; the coroutine is then
cancelled, and the caller waits for it to finish its clean-up (a wait cancels its job) before the exception goes on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import AsyncIterator, Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")

#: how often a waiting caller wakes up, so that an exception injected into its thread lands promptly
WAKE_EVERY = 0.2
#: how long an interrupted caller waits for the cancelled coroutine's clean-up (cancelling its job, say)
CANCEL_GRACE = 30.0


class Portal:
    """An event loop in a daemon thread that runs coroutines for synchronous callers; close it when done.

    Example:
        ```python
        with Portal() as portal:
            job = portal.call(async_client.jobs.get(job_id))
        ```
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="jobnode-portal", daemon=True)
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run the coroutine on the portal's loop, with the caller's context, and return its result."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        finished = threading.Event()
        self._loop.call_soon_threadsafe(self._start, coro, future, finished, context=contextvars.copy_context())
        try:
            while True:
                try:
                    return future.result(timeout=WAKE_EVERY)
                except concurrent.futures.TimeoutError:
                    continue
        except BaseException:
            # the caller was interrupted: stop the coroutine too, and let it finish what it does when stopped
            if future.cancel():
                finished.wait(CANCEL_GRACE)
            raise

    def _start(
        self, coro: Coroutine[Any, Any, T], future: concurrent.futures.Future[T], finished: threading.Event
    ) -> None:
        """On the loop, in the caller's context (which the task copies): run the coroutine, report its outcome to
        `future`, and set `finished` once it has ended (cancelled or not)."""
        task = asyncio.ensure_future(coro)

        def report(done: asyncio.Future[T]) -> None:
            if future.done():
                return
            if done.cancelled():
                future.cancel()
            elif (error := done.exception()) is not None:
                future.set_exception(error)
            else:
                future.set_result(done.result())

        def cancelled(_: concurrent.futures.Future[T]) -> None:
            if future.cancelled():
                self._loop.call_soon_threadsafe(task.cancel)

        task.add_done_callback(report)
        task.add_done_callback(lambda _: finished.set())
        future.add_done_callback(cancelled)

    def iterate(self, agen: AsyncIterator[T]) -> Generator[T, None, None]:
        """The async iterator's items; closing the generator early (`contextlib.closing`) closes the iterator."""
        try:
            while True:
                try:
                    yield self.call(agen.__anext__())  # type: ignore[arg-type]
                except StopAsyncIteration:
                    return
        finally:
            aclose = getattr(agen, "aclose", None)
            if aclose is not None:
                self.call(aclose())

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._loop.shutdown_asyncgens(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> Portal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end from sync code, on a portal of its own, with the caller's context.

    Example:
        ```python
        job = run_sync(submit_job.fn(spec))
        ```
    """
    with Portal() as portal:
        return portal.call(coro)
