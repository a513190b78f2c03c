"""The watcher: one per client, shared by every wait and watch of that client, so that a thousand waits cost one
request per interval (or none with a push channel) instead of a thousand, and hold a few connections, not one each.

It follows the platform's push channel (server-sent events) where the platform has one, for up to 1,000 jobs per
stream: jobs that arrive together share a new stream; when streams multiply, they are merged into as few as the
platform allows.

Without a push channel it polls, and each round costs as few requests as the platform allows:

- each job is due for a look on its own schedule: sooner when its progress says it is about to finish, later when
  it has far to go (between `min_interval` and `max_interval`), with a little jitter, so that looks spread over
  time instead of coming in one burst;
- the due jobs are read with whichever costs fewer requests: a *sweep* of the platform's job list (where the
  platform declares one: a few list pages report on every watched job at once) or status reads (1,000 jobs per
  request where the platform has bulk status, one request per job where it does not). Jobs a sweep cannot reach
  (an active-only listing leaves out jobs that ended) are read one by one;
- jobs end in waves (a pipeline's jobs, a platform's queue draining): where one request reads many jobs, a round in
  which watched jobs ended brings the next round forward to `min_interval`, for every watched job, until a round
  sees no job end. Quiet, it costs a round per interval; while jobs end, each extra round is paid for by the jobs
  it finds ended, and the time from a job's end to its wait's return falls to a fraction of the interval.

The transport's rate limiter keeps all of it within the platform's limits. Transient errors (the platform is down,
429, 5xx) are waited out, never passed on; a job that disappears, or an error that is not transient, ends the waits
of that job only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import aclosing

from jobnode.core.backend import ListQuery, Sweep
from jobnode.core.errors import NotFound
from jobnode.core.models import ACTIVE_STATES, Job, Page
from jobnode.core.transport import RetryPolicy, is_transient, jitter

log = logging.getLogger("jobnode.client.watcher")

#: most job ids in one watch stream (the ids travel in the URL; httpx refuses URLs over 64 KiB)
WATCH_CHUNK = 1000

#: the status of many jobs (those that no longer exist are left out)
StatusReader = Callable[[list[str]], Awaitable[list[Job]]]
#: one job (raises NotFound when it does not exist)
JobReader = Callable[[str], Awaitable[Job]]
#: one page of the platform's job list
JobLister = Callable[[ListQuery], Awaitable[Page[Job]]]
#: most ids in one bulk status request
BULK_CHUNK = 1000
#: a platform's push channel: the named jobs now, then each change, until all have ended
StreamOpener = Callable[[Sequence[str]], AsyncIterator[Job]]


class JobGone(NotFound):
    """The job waited for no longer exists on the platform."""


class _Waiter:
    """One wait's view of one job: the latest state, or the error that ends the wait."""

    __slots__ = ("_error", "_event", "_latest", "interval", "job_id")

    def __init__(self, job_id: str, interval: float) -> None:
        self.job_id = job_id
        self.interval = interval
        self._latest: Job | None = None
        self._error: BaseException | None = None
        self._event = asyncio.Event()

    def push(self, job: Job) -> None:
        self._latest = job
        self._event.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._event.set()

    async def next(self) -> Job:
        await self._event.wait()
        self._event.clear()
        if self._error is not None:
            raise self._error
        assert self._latest is not None
        return self._latest


def changed(old: Job | None, new: Job) -> bool:
    """Whether `new` says something `old` did not (state, progress or update time)."""
    return old is None or (old.state, old.progress, old.updated_at) != (new.state, new.progress, new.updated_at)


def _chunks(ids: Iterable[str], size: int) -> list[frozenset[str]]:
    ordered = sorted(ids)
    return [frozenset(ordered[i : i + size]) for i in range(0, len(ordered), size)]


def _backoff(failures: int, interval: float) -> float:
    """The transport's backoff, from the poll interval up to a minute."""
    return RetryPolicy(backoff_base=max(interval, 1.0), backoff_max=60.0).backoff(failures)


class Watcher:
    """Waits on many jobs of one platform with one loop.

    Example:
        ```python
        watcher = Watcher(status=client.jobs.bulk_status, get=client.jobs.get, stream=None, poll_interval=5.0)
        async for job in watcher.updates("job_0123"):
            print(job.state)          # each change, until the job has ended
        await watcher.aclose()
        ```

    Args:
        status: reads the status of many jobs (bulk where the platform can).
        get: reads one job (to find which job an error is about).
        stream: opens the platform's push channel, or None when it has none (or it should not be used).
        lister: reads a page of the platform's job list (for sweeps).
        sweep: how the platform's list can be swept, or None when it cannot.
        bulk: whether `status` reads many jobs in one request.
        poll_interval: seconds between two looks at a job whose progress says nothing about its end, unless a wait
            asks for less.
        min_interval: the shortest time between two looks at a job (default: a quarter of `poll_interval`).
        max_interval: the longest time between two looks at a job (default: four times `poll_interval`).
        settle: seconds to gather jobs that arrive together into one stream or one request.
        max_extra_streams: how many streams beyond the fewest possible may run before they are merged.
    """

    def __init__(
        self,
        *,
        status: StatusReader,
        get: JobReader,
        stream: StreamOpener | None,
        lister: JobLister | None = None,
        sweep: Sweep | None = None,
        bulk: bool = True,
        poll_interval: float = 2.0,
        min_interval: float | None = None,
        max_interval: float | None = None,
        settle: float = 0.2,
        max_extra_streams: int = 4,
    ) -> None:
        self._status_of = status
        self._get = get
        self._open = stream
        self._lister = lister
        self._sweep = sweep if lister is not None else None
        self._bulk = bulk
        self.poll_interval = poll_interval
        self.min_interval = min_interval if min_interval is not None else poll_interval / 4
        self.max_interval = max_interval if max_interval is not None else poll_interval * 4
        self.settle = settle
        self.max_extra_streams = max_extra_streams
        #: per job: when it is next due for a look (loop time), and its first look with progress (time, fraction)
        self._due: dict[str, float] = {}
        self._first: dict[str, tuple[float, float]] = {}
        self._sweep_pages = 0
        #: watched jobs seen to end since the last round
        self._ended = 0
        #: requests made, by kind (`sweep` pages, `status` reads, `get` reads): what a bench reports
        self.requests: dict[str, int] = {"sweep": 0, "status": 0, "get": 0}
        self._waiters: dict[str, set[_Waiter]] = {}
        self._latest: dict[str, Job] = {}
        self._pending: set[str] = set()
        self._streams: dict[asyncio.Task[None], frozenset[str]] = {}
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None

    @property
    def uses_push(self) -> bool:
        """Whether the watcher follows the platform's push channel (False once it fell back to polling)."""
        return self._open is not None

    @property
    def watched(self) -> int:
        """How many jobs someone is waiting for."""
        return len(self._waiters)

    @property
    def streams(self) -> int:
        """How many push streams are open (0 when polling)."""
        return sum(1 for task in self._streams if not task.done())

    async def updates(self, job_id: str, *, poll_interval: float | None = None) -> AsyncGenerator[Job, None]:
        """The job's state now, then each change, until it has ended.

        Raises:
            JobGone: the job no longer exists.
            jobnode.JobnodeError: the platform refused to say (bad credentials, ...); transient errors are waited out.
        """
        waiter = self._subscribe(job_id, poll_interval or self.poll_interval)
        try:
            while True:
                job = await waiter.next()
                yield job
                if job.is_terminal:
                    return
        finally:
            self._unsubscribe(waiter)

    async def aclose(self) -> None:
        """Stop every loop; waits still subscribed would wait forever, so close only once they have left."""
        tasks = [t for t in (self._loop_task, *self._streams) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._streams.clear()
        self._loop_task = None

    # -- subscriptions -------------------------------------------------------------------------------------------

    def _subscribe(self, job_id: str, interval: float) -> _Waiter:
        waiter = _Waiter(job_id, interval)
        waiters = self._waiters.setdefault(job_id, set())
        waiters.add(waiter)
        latest = self._latest.get(job_id)
        if latest is not None:
            waiter.push(latest)
        if len(waiters) == 1 and (latest is None or not latest.is_terminal):
            self._pending.add(job_id)
            self._wake.set()
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.get_running_loop().create_task(self._run(), name="jobnode-watcher")
        return waiter

    def _unsubscribe(self, waiter: _Waiter) -> None:
        waiters = self._waiters.get(waiter.job_id)
        if waiters is None:
            return
        waiters.discard(waiter)
        if not waiters:
            del self._waiters[waiter.job_id]
            self._latest.pop(waiter.job_id, None)
            self._pending.discard(waiter.job_id)
            self._due.pop(waiter.job_id, None)
            self._first.pop(waiter.job_id, None)

    def _wanted(self, ids: Iterable[str]) -> set[str]:
        """Of `ids`, those someone waits for and that have not ended."""
        out = set()
        for job_id in ids:
            if job_id in self._waiters:
                latest = self._latest.get(job_id)
                if latest is None or not latest.is_terminal:
                    out.add(job_id)
        return out

    def _interval(self, job_id: str | None = None) -> float:
        """The shortest interval the waits of `job_id` (of any job, when None) asked for."""
        waiters = self._waiters.get(job_id, ()) if job_id else (w for ws in self._waiters.values() for w in ws)
        return min((w.interval for w in waiters), default=self.poll_interval)

    def _next_look(self, job: Job, now: float) -> float:
        """Seconds until the next look at a job: half its estimated time to finish (from how fast its progress
        moved since it was first seen), within the bounds; the base interval when progress says nothing."""
        base = self._interval(job.id)
        low, high = min(self.min_interval, base), max(self.max_interval, base)
        fraction = job.progress.fraction
        delay = base
        if fraction is not None:
            first = self._first.setdefault(job.id, (now, fraction))
            moved, spent = fraction - first[1], now - first[0]
            if moved > 0 and spent > 0:
                delay = (1.0 - fraction) / (moved / spent) / 2
        return min(high, max(low, delay))

    def _observe(self, job: Job) -> None:
        """A fresh look at a job: schedule the next one, and tell its waits if it changed. Where each look costs a
        request of its own, looks get a little jitter, so that they spread over time instead of coming in bursts;
        where one request reads many jobs, they stay together."""
        if job.id in self._waiters:
            now = asyncio.get_running_loop().time()
            delay = self._next_look(job, now)
            if self._sweep is None and not self._bulk:
                delay *= jitter(0.9, 1.1)
            self._due[job.id] = now + delay
        self._dispatch(job)

    def _dispatch(self, job: Job) -> None:
        waiters = self._waiters.get(job.id)
        if not waiters or not changed(self._latest.get(job.id), job):
            return
        self._latest[job.id] = job
        self._ended += job.is_terminal
        for waiter in list(waiters):
            waiter.push(job)

    def _fail(self, job_id: str, error: BaseException) -> None:
        for waiter in list(self._waiters.get(job_id, ())):
            waiter.fail(error)

    # -- the loops -----------------------------------------------------------------------------------------------

    async def _run(self) -> None:
        if self._open is not None:
            await self._run_streams()
        else:
            await self._run_polls()

    async def _run_polls(self) -> None:
        """Look at each job when it is due, with the cheapest reads; new jobs are looked at within `settle`."""
        loop = asyncio.get_running_loop()
        failures = 0
        while self._waiters:
            now = loop.time()
            wanted = self._wanted(self._waiters)
            self._pending.clear()
            self._wake.clear()
            due = {j for j in wanted if self._due.get(j, now) <= now}
            try:
                if due and self._sweep is not None and self._sweep_cost(len(wanted)) < self._read_cost(len(due)):
                    await self._sweep_all(wanted)
                elif due and self._bulk:
                    # one request reads many jobs: take those due within the next half interval too, so that jobs
                    # whose looks drifted apart still share requests
                    soon = now + self._interval() / 2
                    await self._poll({j for j in wanted if self._due.get(j, now) <= soon})
                elif due:
                    await self._poll(due)
                failures = 0
                self._after_round()
            except Exception as exc:  # transient: the reads keep the others to the jobs they are about
                failures += 1
                log.info("jobnode: status of %d jobs failed (%s); retrying", len(due), exc)
                await asyncio.sleep(_backoff(failures, self._interval()))
                continue
            wanted = self._wanted(self._waiters)
            next_due = min((self._due.get(j, now) for j in wanted), default=now + self.poll_interval)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(max(next_due, loop.time())):
                    await self._wake.wait()
                    await asyncio.sleep(self.settle)

    def _after_round(self) -> None:
        """Jobs ended in this round: where one request reads many jobs, the next round comes at `min_interval`."""
        ended, self._ended = self._ended, 0
        if not ended or (self._sweep is None and not self._bulk):
            return
        soon = asyncio.get_running_loop().time() + self.min_interval
        for job_id in self._wanted(self._waiters):
            self._due[job_id] = min(self._due.get(job_id, soon), soon)

    def _read_cost(self, jobs: int) -> int:
        return -(-jobs // BULK_CHUNK) if self._bulk else jobs

    def _sweep_cost(self, watched: int) -> int:
        assert self._sweep is not None
        return max(self._sweep_pages, -(-watched // self._sweep.page_size))

    async def _sweep_all(self, wanted: set[str]) -> None:
        """Page through the platform's job list until every watched job was seen (or the list has passed the oldest
        of them); read the ones the list did not show one by one."""
        assert self._sweep is not None and self._lister is not None
        sweep = self._sweep
        seen: set[str] = set()
        known = [self._latest[j].created_at for j in wanted if j in self._latest]
        oldest = min((t for t in known if t is not None), default=None)
        query = ListQuery(state=ACTIVE_STATES if sweep.active_only else None, limit=sweep.page_size)
        pages = 0
        while True:
            page = await self._lister(query)
            pages += 1
            self.requests["sweep"] += 1
            for job in page.data:
                if job.id in wanted:
                    seen.add(job.id)
                    self._observe(job)
            if wanted <= seen or not page.next_cursor or not page.data:
                break
            created = [j.created_at for j in page.data if j.created_at is not None]
            if not sweep.active_only and oldest is not None and created and min(created) < oldest:
                break  # past the oldest watched job: the rest of the list is older still
            query = ListQuery(state=query.state, limit=sweep.page_size, cursor=page.next_cursor)
        self._sweep_pages = pages
        if missing := self._wanted(wanted - seen):
            await self._poll(missing)

    async def _poll(self, ids: set[str]) -> None:
        """Status reads of the jobs, a chunk at a time, each answer handled before the next read. Raises only
        transient errors; any other error ends the waits it is about."""
        for chunk in _chunks(ids, BULK_CHUNK):
            asked = sorted(chunk)
            try:
                found = await self._status_of(asked)
            except Exception as exc:
                if is_transient(exc):
                    raise
                await self._isolate(asked, exc)
                continue
            finally:
                self.requests["status"] += self._read_cost(len(asked))
            for job in found:
                self._observe(job)
            self._gone(chunk - {job.id for job in found})

    def _gone(self, ids: Iterable[str]) -> None:
        """Fail the waits of jobs that no longer exist (a status answer left them out)."""
        for job_id in ids:
            self._fail(job_id, JobGone(f"job {job_id} does not exist (any more)", status_code=404))

    async def _isolate(self, ids: list[str], exc: BaseException) -> None:
        """A read about many jobs failed for good: find which jobs it is about, so that the others go on."""
        if len(ids) <= 1:
            for job_id in ids:
                self._fail(job_id, exc)
            return
        self.requests["get"] += len(ids)
        results = await asyncio.gather(*(self._get(j) for j in ids), return_exceptions=True)
        for job_id, result in zip(ids, results, strict=True):
            if isinstance(result, Job):
                self._observe(result)
            elif isinstance(result, NotFound):
                self._gone([job_id])
            elif isinstance(result, BaseException) and not is_transient(result):
                self._fail(job_id, result)

    async def _run_streams(self) -> None:
        """Open a stream for each group of new jobs; merge streams when there are too many."""
        while self._waiters and self._open is not None:
            await self._wake.wait()
            await asyncio.sleep(self.settle)
            self._wake.clear()
            fresh = self._wanted(self._pending)
            self._pending.clear()
            if not fresh:
                continue
            live = [task for task in self._streams if not task.done()]
            for task in [t for t in self._streams if t.done()]:
                del self._streams[task]
            fewest = -(-len(self._wanted(self._waiters)) // WATCH_CHUNK)
            if len(live) + 1 > fewest + self.max_extra_streams:
                fresh |= self._wanted(j for task in live for j in self._streams[task])
                for task in live:
                    task.cancel()
                    del self._streams[task]
            for ids in _chunks(fresh, WATCH_CHUNK):
                task = asyncio.get_running_loop().create_task(self._stream(ids), name="jobnode-watch")
                self._streams[task] = ids

    async def _stream(self, ids: frozenset[str]) -> None:
        """Follow one stream until its jobs have ended; reconnect after a transient failure or an early end."""
        assert self._open is not None
        failures = 0
        while wanted := self._wanted(ids):
            try:
                async with aclosing(self._open(sorted(wanted))) as stream:  # type: ignore[type-var]
                    async for job in stream:
                        failures = 0
                        self._dispatch(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_transient(exc):
                    await self._recover(ids, exc)
                    return
            if self._wanted(ids):  # cut short (a restart, a proxy's timeout): reconnect after a pause
                failures += 1
                await asyncio.sleep(_backoff(failures, self._interval()))

    async def _recover(self, ids: frozenset[str], exc: BaseException) -> None:
        """A stream failed for good: fail the jobs it was about, watch the others again (or poll them)."""
        wanted = sorted(self._wanted(ids))
        if not wanted:
            return
        try:
            found = await self._status_of(wanted)
        except Exception as status_exc:
            if is_transient(status_exc):
                self._requeue(wanted)
            else:
                for job_id in wanted:
                    self._fail(job_id, exc)
            return
        for job in found:
            self._dispatch(job)
        gone = set(wanted) - {job.id for job in found}
        self._gone(gone)
        if not gone:
            # every job exists, yet the stream failed: this platform's stream cannot be relied on, so poll
            log.warning("jobnode: the watch stream failed (%s); polling instead", exc)
            self._open = None
            if self._loop_task is not None:
                self._loop_task.cancel()
            self._loop_task = asyncio.get_running_loop().create_task(self._run_polls(), name="jobnode-watcher")
            return
        self._requeue(self._wanted(wanted))

    def _requeue(self, ids: Iterable[str]) -> None:
        self._pending.update(ids)
        self._wake.set()
