"""What moves DSS jobs on from one activity to the next: a task on the server's event loop that hears of every
change of the engine's jobs (`service.subscribe`) and advances the DSS jobs whose activity in flight changed.

The task starts with the first request the emulator gets (an ASGI app has no other hook into the server's loop
here) and, once it listens, moves on every job that has not ended: after a restart, the engine finished activities
while nobody was listening.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from jobnode.platforms.dataiku.emulator.builds import Builds
from jobnode.service.emulation import JobService

log = logging.getLogger("jobnode.dataiku")


class Driver:
    """Advances DSS jobs as the engine ends their activities."""

    def __init__(self, service: JobService, builds: Builds) -> None:
        self.service = service
        self.builds = builds
        self._task: asyncio.Task[None] | None = None
        self._listening: asyncio.Event | None = None

    async def started(self) -> None:
        """Start the task, once, and wait until it listens (so that no change of a job started after this is
        missed)."""
        if self._task is None:
            self._listening = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="jobnode-dataiku-driver")
        assert self._listening is not None
        await self._listening.wait()

    async def _run(self) -> None:
        assert self._listening is not None
        async with self.service.subscribe() as changes:
            self._listening.set()
            await self._step(self.builds.advance_all)
            while True:
                jobs = self.builds.owned(await changes.next())
                if jobs:
                    await self._step(self.builds.advance, jobs)

    async def _step(self, advance: Callable[..., None], *args: Any) -> None:
        try:
            await asyncio.to_thread(advance, *args)
        except Exception:  # one job that cannot move on must not stop the others
            log.exception("cannot move DSS jobs on")


class StartDriver:
    """An ASGI wrapper that starts the driver with the first request."""

    def __init__(self, app: ASGIApp, driver: Driver) -> None:
        self.app = app
        self.driver = driver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.driver.started()
        await self.app(scope, receive, send)
