"""The one bridge from sync code to async code: results, errors, the caller's context, and an interrupted caller
whose coroutine is cancelled and allowed to finish its clean-up before the interruption goes on."""

from __future__ import annotations

import asyncio
import contextvars
import ctypes
import threading
import time
from collections.abc import AsyncIterator

import pytest

from jobnode.client import Portal, run_sync

RUN = contextvars.ContextVar[str]("RUN")


class Interrupted(Exception):
    """What Prefect injects into a worker thread to time out or cancel its task."""


def test_the_result_and_the_error_of_the_coroutine_reach_the_caller() -> None:
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    async def fail() -> None:
        raise KeyError("missing")

    assert run_sync(double(21)) == 42
    with pytest.raises(KeyError, match="missing"):
        run_sync(fail())


def test_the_coroutine_sees_the_caller_s_context_variables() -> None:
    async def read() -> str:
        return RUN.get()

    token = RUN.set("flow-run-1")
    try:
        assert run_sync(read()) == "flow-run-1"
    finally:
        RUN.reset(token)


def test_it_works_under_a_running_event_loop() -> None:
    async def outer() -> int:  # a sync task called from an async flow
        return run_sync(asyncio.sleep(0, result=7))

    assert asyncio.run(outer()) == 7


def test_an_interrupted_caller_cancels_the_coroutine_and_waits_for_its_clean_up() -> None:
    events: list[str] = []

    async def wait_then_clean_up() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await asyncio.sleep(0.3)  # a remote cancel takes a request
            events.append("cleaned up")
            raise

    def caller() -> None:
        try:
            run_sync(wait_then_clean_up())
        except Interrupted:
            events.append("interrupted")

    thread = threading.Thread(target=caller)
    thread.start()
    time.sleep(0.3)
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident or 0), ctypes.py_object(Interrupted))
    thread.join(timeout=10)
    assert events == ["cleaned up", "interrupted"]


def test_a_portal_iterates_an_async_iterator_and_closes_it_when_left_early() -> None:
    closed: list[bool] = []

    async def numbers() -> AsyncIterator[int]:
        try:
            for n in range(100):
                yield n
        finally:
            closed.append(True)

    with Portal() as portal:
        items = portal.iterate(numbers())
        assert [next(items) for _ in range(3)] == [0, 1, 2]
        items.close()
    assert closed == [True]
