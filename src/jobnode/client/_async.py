"""`AsyncClient`: one facade over any platform's backend, with waits, log iteration and retries."""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import os
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from contextlib import aclosing
from datetime import datetime
from typing import Any, Literal

from pydantic import TypeAdapter

from jobnode.client._attach import Attached, resubmitted_from, submit_or_reattach
from jobnode.client._capabilities import check, require
from jobnode.client._cleanup import CleanupReport, cleanup, nothing_deleted
from jobnode.client._logs import FIRST_ERRORS, LogSummary, LogTally
from jobnode.client._outcome import LAST_ERRORS, CancelOutcome, cancel_overdue, wait_or_cancel
from jobnode.client._watcher import Watcher
from jobnode.core.backend import (
    Backend,
    CancelsJobs,
    DeletesArtifacts,
    DeletesJobs,
    FindsArtifacts,
    ListQuery,
    ListsSteps,
    LogQuery,
    PlansJobs,
    ReadsArtifacts,
    ReadsDeadLetters,
    ReadsErrors,
    ReadsEvents,
    ReadsLogs,
    ResubmitsFailed,
    SegmentsLogs,
    WatchesJobs,
)
from jobnode.core.errors import ConfigurationError, JobFailed, JobnodeError, WaitTimeout
from jobnode.core.models import (
    Artifact,
    ArtifactsInput,
    DeadLetter,
    DeletePlan,
    DelimitedInput,
    FilesInput,
    ItemsInput,
    Job,
    JobError,
    JobEvent,
    JobPlan,
    JobResult,
    JobSpec,
    JobState,
    LogEntry,
    LogLevel,
    Page,
    StepInfo,
)
from jobnode.core.transport import is_transient
from jobnode.platforms import get_platform

ProgressCallback = Callable[[Job], Any]
LogCallback = Callable[[LogEntry], Any]
_OVERRIDES: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])
BULK_CHUNK = 1000


def build_spec(
    *,
    items: Sequence[Any] | None = None,
    files: Sequence[str] | None = None,
    delimited: Sequence[str] | None = None,
    artifacts: Sequence[str] | None = None,
    includes: Sequence[str] = (),
    excludes: Sequence[str] = (),
    **fields: Any,
) -> JobSpec:
    """A `JobSpec` from keyword arguments; exactly one of `items`, `files`, `delimited`, `artifacts` or
    `input` names the input."""
    given = {
        k: v
        for k, v in {"items": items, "files": files, "delimited": delimited, "artifacts": artifacts}.items()
        if v is not None
    }
    if "input" in fields:
        given["input"] = fields.pop("input")
    if len(given) != 1:
        raise ValueError(
            "name the job's input with exactly one of items=, files=, delimited=, artifacts= or input= "
            f"(got {', '.join(given) or 'none'})"
        )
    kind, value = next(iter(given.items()))
    if kind == "items":
        job_input: Any = ItemsInput(items=list(value))
    elif kind == "files":
        job_input = FilesInput(paths=list(value), includes=list(includes), excludes=list(excludes))
    elif kind == "delimited":
        job_input = DelimitedInput(paths=list(value), includes=list(includes), excludes=list(excludes))
    elif kind == "artifacts":
        job_input = ArtifactsInput(artifacts=list(value))
    else:
        job_input = value
    return JobSpec(input=job_input, **fields)


class AsyncJobs:
    """Job operations of an `AsyncClient` (`client.jobs`)."""

    def __init__(
        self,
        backend: Backend,
        *,
        poll_interval: float = 2.0,
        min_poll_interval: float | None = None,
        max_poll_interval: float | None = None,
        push: bool = True,
    ) -> None:
        self._backend = backend
        capabilities = backend.capabilities
        stream = require(backend, "watch", WatchesJobs).watch if push and capabilities.watch else None
        self._watcher = Watcher(
            status=self.bulk_status,
            get=self.get,
            stream=stream,
            lister=backend.list_jobs,
            sweep=capabilities.sweep,
            bulk=capabilities.bulk_status,
            poll_interval=poll_interval,
            min_interval=min_poll_interval,
            max_interval=max_poll_interval,
        )

    @property
    def watcher(self) -> Watcher:
        """The watcher that every wait and watch of this client shares (how many jobs it follows, on how many
        streams)."""
        return self._watcher

    async def create(self, spec: JobSpec | None = None, *, idempotency_key: str | None = None, **fields: Any) -> Job:
        """Create a job from a `JobSpec`, or from keyword arguments (see `build_spec`).

        The same `idempotency_key` always returns the same job, so a retried caller never starts a second one.
        """
        return await self._backend.create_job(spec or build_spec(**fields), idempotency_key=idempotency_key)

    async def plan(self, spec: JobSpec | None = None, **fields: Any) -> JobPlan:
        """A dry run: the resolved items and batches, without creating anything."""
        return await require(self._backend, "plan", PlansJobs).plan_job(spec or build_spec(**fields))

    async def get(self, job_id: str) -> Job:
        return await self._backend.get_job(job_id)

    async def list(
        self,
        *,
        state: JobState | str | Sequence[JobState | str] | None = None,
        tag: str | None = None,
        name: str | None = None,
        ids: Sequence[str] | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Job]:
        states = [state] if isinstance(state, JobState | str) else state
        if tag is not None:
            check(self._backend, "tags")
        query = ListQuery(
            state=[JobState(s) for s in states] if states else None,
            tag=tag,
            name=name,
            ids=ids,
            limit=limit,
            cursor=cursor,
        )
        return await self._backend.list_jobs(query)

    async def bulk_status(self, job_ids: Sequence[str]) -> builtins.list[Job]:
        """Many jobs in few requests (one per 1,000 ids where the platform has bulk status)."""
        if not self._backend.capabilities.bulk_status:
            return list(await asyncio.gather(*(self.get(j) for j in job_ids)))
        out: builtins.list[Job] = []
        for start in range(0, len(job_ids), BULK_CHUNK):
            chunk = list(job_ids[start : start + BULK_CHUNK])
            page = await self._backend.list_jobs(ListQuery(ids=chunk, limit=len(chunk)))
            out.extend(page.data)
        return out

    async def cancel(self, job_id: str) -> Job:
        """Cancel a job; cancelling a job that has ended changes nothing."""
        return await require(self._backend, "cancel", CancelsJobs).cancel_job(job_id)

    async def delete(
        self, job_id: str, *, delete_outputs: bool = False, delete_subjobs: bool = False, dry_run: bool = False
    ) -> DeletePlan:
        """Delete a job under the lineage rules; a refusal raises `Conflict` with the blockers in `.details`."""
        return await require(self._backend, "delete", DeletesJobs).delete_job(
            job_id, delete_outputs=delete_outputs, delete_subjobs=delete_subjobs, dry_run=dry_run
        )

    async def logs(
        self,
        job_id: str,
        *,
        after_time: datetime | None = None,
        before_time: datetime | None = None,
        min_level: LogLevel | str | None = None,
        kind: str | None = None,
        limit: int = 1000,
        cursor: str | None = None,
        order: Literal["asc", "desc"] = "asc",
    ) -> Page[LogEntry]:
        """One page of log entries."""
        backend = require(self._backend, "logs", ReadsLogs)
        query = LogQuery(
            after_time=after_time,
            before_time=before_time,
            min_level=LogLevel(min_level) if min_level else None,
            kind=kind,
            limit=limit,
            cursor=cursor,
            order=order,
        )
        return await backend.get_logs(job_id, query)

    async def iter_log_pages(
        self,
        job_id: str,
        *,
        after_time: datetime | None = None,
        before_time: datetime | None = None,
        min_level: LogLevel | str | None = None,
        kind: str | None = None,
        order: Literal["asc", "desc"] = "asc",
        limit: int = 1000,
        read_ahead: int = 8,
    ) -> AsyncIterator[builtins.list[LogEntry]]:
        """Every page of log entries matching the filters of `logs`, in order, in bounded memory whatever the size
        of the log. Pages are read ahead while the caller handles one: where the platform can cut the log into
        segments, up to `read_ahead` segments are read at once (a page or two each); otherwise the next page.
        """
        backend = require(self._backend, "logs", ReadsLogs)
        query = LogQuery(
            after_time=after_time,
            before_time=before_time,
            min_level=LogLevel(min_level) if min_level else None,
            kind=kind,
            limit=limit,
            order=order,
        )
        if read_ahead > 1 and self._backend.capabilities.log_segments:
            segments = await require(self._backend, "log_segments", SegmentsLogs).log_segments(job_id, query)
            async for page in _read_segments(backend, job_id, segments, read_ahead):
                yield page
            return
        async for page in _read_segments(backend, job_id, [query], 1):
            yield page

    async def iter_logs(
        self,
        job_id: str,
        *,
        after_time: datetime | None = None,
        before_time: datetime | None = None,
        min_level: LogLevel | str | None = None,
        kind: str | None = None,
        order: Literal["asc", "desc"] = "asc",
        limit: int = 1000,
        read_ahead: int = 8,
    ) -> AsyncIterator[LogEntry]:
        """Every log entry matching the filters of `logs`, streamed page by page."""
        async for entries in self.iter_log_pages(
            job_id,
            after_time=after_time,
            before_time=before_time,
            min_level=min_level,
            kind=kind,
            order=order,
            limit=limit,
            read_ahead=read_ahead,
        ):
            for entry in entries:
                yield entry

    async def errors(self, job_id: str, *, limit: int = 100) -> builtins.list[JobError]:
        """The job's most recent errors, newest first."""
        return await require(self._backend, "errors", ReadsErrors).get_errors(job_id, limit=limit)

    async def result(self, job_id: str) -> JobResult:
        return await self._backend.get_result(job_id)

    async def events(self, job_id: str) -> builtins.list[JobEvent]:
        """The job's lifecycle events, oldest first."""
        return await require(self._backend, "events", ReadsEvents).get_events(job_id)

    async def watch(self, job_ids: Sequence[str], *, poll_interval: float | None = None) -> AsyncGenerator[Job, None]:
        """Each job now, then each change, until all of them have ended: through the client's shared watcher, which
        follows the platform's push channel where it has one (one stream per 1,000 jobs, shared by every wait of
        this client) and polls otherwise (bulk status where it can). Transient errors are waited out, never raised.

        Raises:
            JobGone: a job no longer exists.
            jobnode.JobnodeError: the platform refused to say (bad credentials, ...).
        """
        ids = list(dict.fromkeys(job_ids))
        if len(ids) == 1:
            async with aclosing(self._watcher.updates(ids[0], poll_interval=poll_interval)) as updates:
                async for job in updates:
                    yield job
            return
        queue: asyncio.Queue[Job | BaseException | None] = asyncio.Queue()

        async def follow(job_id: str) -> None:
            try:
                async for job in self._watcher.updates(job_id, poll_interval=poll_interval):
                    await queue.put(job)
            except Exception as exc:
                await queue.put(exc)
            await queue.put(None)

        followers = [asyncio.create_task(follow(j)) for j in ids]
        try:
            ended = 0
            while ended < len(ids):
                item = await queue.get()
                if item is None:
                    ended += 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            for task in followers:
                task.cancel()
            await asyncio.gather(*followers, return_exceptions=True)

    async def wait(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float | None = None,
        on_progress: ProgressCallback | None = None,
        raise_on_failure: bool = False,
    ) -> Job:
        """Wait until the job has ended and return it.

        Raises `WaitTimeout` after `timeout` seconds (the job goes on; cancel it if you want it stopped), and
        `JobFailed` when `raise_on_failure` and the job did not succeed.
        """
        last: Job | None = None
        try:
            async with asyncio.timeout(timeout), aclosing(self.watch([job_id], poll_interval=poll_interval)) as updates:
                async for job in updates:
                    last = job
                    if on_progress is not None:
                        on_progress(job)
                    if job.is_terminal:
                        break
        except TimeoutError:
            raise WaitTimeout(job_id, timeout or 0, last) from None
        assert last is not None
        if raise_on_failure and last.state is not JobState.SUCCEEDED:
            raise JobFailed(last, await self.last_errors(job_id))
        return last

    async def last_errors(self, job_id: str, *, limit: int = 10) -> builtins.list[JobError]:
        """The job's most recent errors where the platform keeps them; none where it does not or cannot say."""
        if not self._backend.capabilities.errors:
            return []
        try:
            return await self.errors(job_id, limit=limit)
        except Exception as exc:
            if is_transient(exc) or isinstance(exc, JobnodeError):
                return []
            raise

    async def dead_letters(self, job_id: str) -> builtins.list[DeadLetter]:
        """The dead-lettered batches of a job (their items and last error)."""
        return await require(self._backend, "dead_letters", ReadsDeadLetters).get_dead_letters(job_id)

    async def resubmit_failed(self, job_id: str, *, idempotency_key: str | None = None, **overrides: Any) -> Job:
        """Run a finished job's failures again as a new job: the items of its dead-lettered batches and the items
        that failed alone, with the same step, parameters and webhook unless `overrides` (`JobSpec` fields such as
        `max_attempts=5` or `params={...}`) say otherwise. The new job is tagged `resubmit-of:<job_id>`.

        Example:
            ```python
            retry = await client.jobs.resubmit_failed(job.id, max_attempts=5, idempotency_key=f"retry-{job.id}")
            retry = await client.jobs.wait(retry.id)
            ```
        """
        backend = require(self._backend, "resubmit", ResubmitsFailed)
        payload = _OVERRIDES.dump_python(overrides, mode="json")
        return await backend.resubmit_failed(job_id, payload, idempotency_key=idempotency_key)

    async def cleanup(
        self,
        job_ids: Sequence[str],
        *,
        delete_outputs: bool = True,
        protect: Iterable[str] = (),
        dry_run: bool = False,
    ) -> CleanupReport:
        """Delete as much of `job_ids` as the lineage rules allow, with their outputs; keep the rest and say why.

        A job is kept when it is not finished, has a sub-job that stays, or has an output that must stay: one in
        `protect` (artifact ids, e.g. a DAG's outlet assets), or one read by a job that stays. Works on every
        platform: the lineage is what the platform knows (see `jobnode.client._cleanup`). On a platform that cannot
        delete jobs (Nucleus) nothing is deleted and every job is kept, the report saying why.

        Example:
            ```python
            report = await client.jobs.cleanup([extract.id, transform.id], protect=[transform.outputs[0].id])
            for blocker in report.kept:
                print(blocker.id, blocker.reason)
            ```
        """
        if not self._backend.capabilities.delete:
            return nothing_deleted(self._backend.platform, job_ids, dry_run=dry_run)
        return await cleanup(self._backend, job_ids, delete_outputs=delete_outputs, protect=protect, dry_run=dry_run)

    # -- what every integration does with jobs (Airflow and Prefect translate these, nothing more) -----------------

    async def wait_or_cancel(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float = 2.0,
        on_progress: ProgressCallback | None = None,
        raise_on_failure: bool = True,
    ) -> Job:
        """Wait until the job has ended, and cancel it when the wait times out or is itself cancelled, so that no
        job runs on that nobody waits for.

        Raises:
            CancelledOnTimeout: (a `WaitTimeout`) after `timeout` seconds; its message and `outcome` say whether
                the platform took the cancel.
            JobFailed: with `raise_on_failure`, the job did not succeed; `.errors` holds its last errors
                (`failure_report` shows both).

        Example:
            ```python
            try:
                job = await client.jobs.wait_or_cancel(job.id, timeout=3600)
            except jobnode.JobFailed as exc:
                print(failure_report(exc))
            ```
        """
        return await wait_or_cancel(
            self,
            job_id,
            timeout=timeout,
            poll_interval=poll_interval,
            on_progress=on_progress,
            raise_on_failure=raise_on_failure,
        )

    async def failure_of(self, job: Job) -> JobFailed:
        """What a job that did not succeed failed of: its reason and its last errors, where the platform keeps
        errors (`failure_report` shows them).

        Example:
            ```python
            if job.state is not JobState.SUCCEEDED:
                raise MyError(failure_report(await client.jobs.failure_of(job)))
            ```
        """
        return JobFailed(job, await self.last_errors(job.id, limit=LAST_ERRORS))

    async def cancel_overdue(self, job_id: str) -> CancelOutcome:
        """Cancel a job that nobody will wait for any more (its wait timed out); never raises for a platform that
        cannot cancel or refuses, but says so in the outcome."""
        return await cancel_overdue(self, job_id)

    async def submit_or_reattach(
        self,
        spec: JobSpec,
        *,
        key: str | None,
        generation: int = 0,
        after: Job | None = None,
        retry_from_failure: bool = False,
    ) -> Attached:
        """The job a caller that may run again should wait for: the one it started for this request, or a new one.

        Jobs are created under idempotency keys `key-<request digest>-<generation>`: the same request finds the job
        of its current generation (a job that runs is reattached, one that succeeded is not run again); a job that
        failed, was cancelled or timed out moves on to the next generation, a new job (with `retry_from_failure`,
        where the platform can resubmit, a job over the failed items only); a changed request is a new job. With
        `key=None` the job is simply created. See `jobnode.client._attach`.

        Args:
            spec: the request.
            key: what stays the same across the caller's tries (a task instance, a flow run); short (under 40
                characters), as platforms limit the length of idempotency keys.
            generation: the generation to start from (a caller that recorded the last one skips the earlier ones).
            after: the job of the generation before, when the caller recorded it (what `retry_from_failure`
                resubmits).
            retry_from_failure: run only the failed items again when the job before failed.

        Example:
            ```python
            attached = await client.jobs.submit_or_reattach(spec, key=f"nightly-{run_date}")
            job = await client.jobs.wait_or_cancel(attached.job.id, timeout=3600)
            ```
        """
        return await submit_or_reattach(
            self,
            self._backend.capabilities,
            spec,
            key=key,
            generation=generation,
            after=after,
            retry_from_failure=retry_from_failure,
        )

    async def resubmission_chain(self, job: Job) -> builtins.list[Job]:
        """The jobs whose failures `job` runs again (`resubmit_failed`), oldest first, then `job` itself: together
        they hold every item's result."""
        earlier = resubmitted_from(job)
        return [*await self.bulk_status(earlier), job] if earlier else [job]

    async def summarize_logs(
        self,
        job_id: str,
        *,
        on_entry: LogCallback | None = None,
        first_errors: int = FIRST_ERRORS,
        **filters: Any,
    ) -> LogSummary:
        """Read every log entry matching the filters of `logs`, page by page in constant memory, handing each to
        `on_entry`, and return the counts by level and the first errors.

        Example:
            ```python
            summary = await client.jobs.summarize_logs(job.id, on_entry=lambda e: print(format_entry(e)))
            print(summary.counts())   # '3 error, 97 info'
            ```
        """
        tally = LogTally(job_id, first_errors=first_errors)
        async for entry in self.iter_logs(job_id, **filters):
            tally.add(entry)
            if on_entry is not None:
                on_entry(entry)
        return tally.summary()


async def _read_segments(
    backend: ReadsLogs, job_id: str, segments: Sequence[LogQuery], read_ahead: int, buffered: int = 2
) -> AsyncIterator[builtins.list[LogEntry]]:
    """The pages of consecutive log segments, in order: up to `read_ahead` segments are read at once, each holding
    at most `buffered` pages ahead of the reader (so memory stays bounded), and each segment's next page is asked
    for while its last one waits."""
    queues: list[asyncio.Queue[builtins.list[LogEntry] | BaseException | None]] = [
        asyncio.Queue(maxsize=buffered) for _ in segments
    ]
    running = asyncio.Semaphore(read_ahead)

    async def fill(queue: asyncio.Queue[builtins.list[LogEntry] | BaseException | None], query: LogQuery) -> None:
        async with running:  # segments start in order, so the reader's current one is always among those running
            try:
                cursor = None
                while True:
                    page = await backend.get_logs(job_id, dataclasses.replace(query, cursor=cursor))
                    if page.data:
                        await queue.put(page.data)
                    if not page.next_cursor:
                        break
                    cursor = page.next_cursor
            except Exception as exc:
                await queue.put(exc)
            await queue.put(None)

    fillers = [asyncio.create_task(fill(q, s)) for q, s in zip(queues, segments, strict=True)]
    try:
        for queue in queues:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
    finally:
        for task in fillers:
            task.cancel()
        await asyncio.gather(*fillers, return_exceptions=True)


class AsyncArtifacts:
    """Artifact operations of an `AsyncClient` (`client.artifacts`)."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    async def get(self, artifact_id: str) -> Artifact:
        """An artifact (with the jobs that consume it, where the platform knows them)."""
        return await require(self._backend, "artifacts", FindsArtifacts).get_artifact(artifact_id)

    async def read(self, artifact_id: str, *, skip: int = 0) -> AsyncIterator[Any]:
        """Each record of the artifact, streamed, from record number `skip` on; a read that a transient failure
        cuts short resumes where it stopped (no record lost, none repeated)."""
        async for record in require(self._backend, "read_artifacts", ReadsArtifacts).read_artifact(
            artifact_id, skip=skip
        ):
            yield record

    async def delete(self, artifact_id: str, *, dry_run: bool = False) -> DeletePlan:
        """Delete an artifact unless a job still reads it (a refusal raises `Conflict` naming those jobs)."""
        return await require(self._backend, "delete_artifacts", DeletesArtifacts).delete_artifact(
            artifact_id, dry_run=dry_run
        )


class AsyncSteps:
    """The processing steps of an `AsyncClient`'s platform (`client.steps`)."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    async def list(self) -> list[StepInfo]:
        """Every step the platform runs, each version, with the JSON schema of its parameters."""
        return await require(self._backend, "steps", ListsSteps).list_steps()


class AsyncClient:
    """jobnode's async client.

    Example:
        ```python
        async with jobnode.AsyncClient("http://127.0.0.1:8765", token="s3cret") as client:
            job = await client.jobs.create(name="nightly", step="sentiment", items=["good", "bad"])
            job = await client.jobs.wait(job.id, timeout=600)
        ```

    `url` and `token` default to `JOBNODE_URL` and `JOBNODE_TOKEN`. `platform` picks the backend (default
    `local`); `backend=` passes one that is already built; other keyword arguments are the platform's settings
    (`jobnode.platforms`). Waits share the client's watcher: `poll_interval` is how often it looks at a job whose
    progress says nothing about its end (between `min_poll_interval` and `max_poll_interval` it looks sooner at
    jobs about to finish and later at jobs far from it); `watch=False` polls even where the platform can push.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        platform: str = "local",
        backend: Backend | None = None,
        poll_interval: float = 2.0,
        min_poll_interval: float | None = None,
        max_poll_interval: float | None = None,
        watch: bool = True,
        **options: Any,
    ) -> None:
        if backend is None:
            descriptor = get_platform(platform)
            url = url or os.environ.get("JOBNODE_URL") or descriptor.default_url
            if not url:
                raise ConfigurationError("no service URL: pass url= or set JOBNODE_URL (e.g. http://127.0.0.1:8765)")
            token = token if token is not None else os.environ.get("JOBNODE_TOKEN")
            backend = descriptor.create_backend(descriptor.make_settings(url=url, token=token, **options))
        self.backend = backend
        self.jobs = AsyncJobs(
            backend,
            poll_interval=poll_interval,
            min_poll_interval=min_poll_interval,
            max_poll_interval=max_poll_interval,
            push=watch,
        )
        self.artifacts = AsyncArtifacts(backend)
        self.steps = AsyncSteps(backend)

    @property
    def platform(self) -> str:
        return self.backend.platform

    def job_url(self, job_id: str) -> str:
        return self.backend.job_url(job_id)

    async def aclose(self) -> None:
        await self.jobs._watcher.aclose()
        await self.backend.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
