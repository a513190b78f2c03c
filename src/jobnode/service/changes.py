"""Change notifications: the engine says which jobs changed; each subscriber (a watch stream, an emulator's event
stream) hears about the jobs it subscribed to, on its event loop."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable
from types import TracebackType


class Subscription:
    """The changed jobs of a subscription, collected until `next()` takes them.

    Example:
        ```python
        async with service.subscribe({"job_0123"}) as changes:
            changed = await changes.next(timeout=15.0)   # the ids that changed; an empty set after the timeout
        ```
    """

    def __init__(self, hub: ChangeHub, ids: frozenset[str] | None) -> None:
        self._hub = hub
        self.ids = ids
        self._pending: set[str] = set()
        self._event = asyncio.Event()
        self._key = 0

    def _offer(self, changed: set[str]) -> None:
        hit = changed if self.ids is None else changed & self.ids
        if hit:
            self._pending |= hit
            self._event.set()

    async def next(self, timeout: float | None = None) -> set[str]:
        """The jobs that changed since the last call (waiting for one); an empty set when `timeout` passes first."""
        if not self._pending:
            try:
                async with asyncio.timeout(timeout):
                    await self._event.wait()
            except TimeoutError:
                return set()
        self._event.clear()
        changed, self._pending = self._pending, set()
        return changed

    async def __aenter__(self) -> Subscription:
        self._key = self._hub._add(self)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._hub._remove(self._key)


class ChangeHub:
    """Fans the engine's change notifications (from its threads) out to subscriptions on one event loop."""

    def __init__(self) -> None:
        self._subs: dict[int, Subscription] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._keys = itertools.count(1)

    def notify(self, ids: Iterable[str]) -> None:
        """Called from any thread with the ids of the jobs that changed."""
        loop = self._loop
        if loop is not None and self._subs and not loop.is_closed():
            loop.call_soon_threadsafe(self._dispatch, set(ids))

    def _dispatch(self, ids: set[str]) -> None:
        for sub in list(self._subs.values()):
            sub._offer(ids)

    def subscribe(self, ids: Iterable[str] | None = None) -> Subscription:
        """A subscription to the changes of `ids` (every job when None); enter it before reading the jobs' state,
        so that no change falls between the read and the subscription."""
        return Subscription(self, frozenset(ids) if ids is not None else None)

    def _add(self, sub: Subscription) -> int:
        self._loop = asyncio.get_running_loop()
        key = next(self._keys)
        self._subs[key] = sub
        return key

    def _remove(self, key: int) -> None:
        self._subs.pop(key, None)
