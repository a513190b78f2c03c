"""`Client`: the sync twin of `AsyncClient`. It runs the async client on a private event loop thread, so both
share one implementation and differ only at this edge."""

from __future__ import annotations

import builtins
from collections.abc import Generator, Iterable, Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar

from jobnode.client._async import AsyncClient, LogCallback, ProgressCallback
from jobnode.client._attach import Attached
from jobnode.client._bridge import Portal
from jobnode.client._cleanup import CleanupReport
from jobnode.client._logs import FIRST_ERRORS, LogSummary, LogTally
from jobnode.client._outcome import CancelOutcome
from jobnode.core.backend import Backend
from jobnode.core.errors import JobFailed
from jobnode.core.models import (
    Artifact,
    DeadLetter,
    DeletePlan,
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

T = TypeVar("T")


class Jobs:
    """Job operations of a `Client` (`client.jobs`); see `AsyncJobs` for each method."""

    def __init__(self, client: AsyncClient, portal: Portal) -> None:
        self._a = client.jobs
        self._p = portal

    def create(self, spec: JobSpec | None = None, *, idempotency_key: str | None = None, **fields: Any) -> Job:
        return self._p.call(self._a.create(spec, idempotency_key=idempotency_key, **fields))

    def plan(self, spec: JobSpec | None = None, **fields: Any) -> JobPlan:
        return self._p.call(self._a.plan(spec, **fields))

    def get(self, job_id: str) -> Job:
        return self._p.call(self._a.get(job_id))

    def list(
        self,
        *,
        state: JobState | str | Sequence[JobState | str] | None = None,
        tag: str | None = None,
        name: str | None = None,
        ids: Sequence[str] | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Job]:
        return self._p.call(self._a.list(state=state, tag=tag, name=name, ids=ids, limit=limit, cursor=cursor))

    def bulk_status(self, job_ids: Sequence[str]) -> builtins.list[Job]:
        return self._p.call(self._a.bulk_status(job_ids))

    def cancel(self, job_id: str) -> Job:
        return self._p.call(self._a.cancel(job_id))

    def delete(
        self, job_id: str, *, delete_outputs: bool = False, delete_subjobs: bool = False, dry_run: bool = False
    ) -> DeletePlan:
        return self._p.call(
            self._a.delete(job_id, delete_outputs=delete_outputs, delete_subjobs=delete_subjobs, dry_run=dry_run)
        )

    def logs(
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
        return self._p.call(
            self._a.logs(
                job_id,
                after_time=after_time,
                before_time=before_time,
                min_level=min_level,
                kind=kind,
                limit=limit,
                cursor=cursor,
                order=order,
            )
        )

    def iter_log_pages(
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
    ) -> Generator[builtins.list[LogEntry], None, None]:
        return self._p.iterate(
            self._a.iter_log_pages(
                job_id,
                after_time=after_time,
                before_time=before_time,
                min_level=min_level,
                kind=kind,
                order=order,
                limit=limit,
                read_ahead=read_ahead,
            )
        )

    def iter_logs(
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
    ) -> Generator[LogEntry, None, None]:
        for page in self.iter_log_pages(
            job_id,
            after_time=after_time,
            before_time=before_time,
            min_level=min_level,
            kind=kind,
            order=order,
            limit=limit,
            read_ahead=read_ahead,
        ):
            yield from page

    def errors(self, job_id: str, *, limit: int = 100) -> builtins.list[JobError]:
        return self._p.call(self._a.errors(job_id, limit=limit))

    def result(self, job_id: str) -> JobResult:
        return self._p.call(self._a.result(job_id))

    def events(self, job_id: str) -> builtins.list[JobEvent]:
        return self._p.call(self._a.events(job_id))

    def watch(self, job_ids: Sequence[str], *, poll_interval: float | None = None) -> Generator[Job, None, None]:
        return self._p.iterate(self._a.watch(job_ids, poll_interval=poll_interval))

    def wait(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float | None = None,
        on_progress: ProgressCallback | None = None,
        raise_on_failure: bool = False,
    ) -> Job:
        return self._p.call(
            self._a.wait(
                job_id,
                timeout=timeout,
                poll_interval=poll_interval,
                on_progress=on_progress,
                raise_on_failure=raise_on_failure,
            )
        )

    def dead_letters(self, job_id: str) -> builtins.list[DeadLetter]:
        return self._p.call(self._a.dead_letters(job_id))

    def resubmit_failed(self, job_id: str, *, idempotency_key: str | None = None, **overrides: Any) -> Job:
        return self._p.call(self._a.resubmit_failed(job_id, idempotency_key=idempotency_key, **overrides))

    def cleanup(
        self,
        job_ids: Sequence[str],
        *,
        delete_outputs: bool = True,
        protect: Iterable[str] = (),
        dry_run: bool = False,
    ) -> CleanupReport:
        return self._p.call(self._a.cleanup(job_ids, delete_outputs=delete_outputs, protect=protect, dry_run=dry_run))

    def failure_of(self, job: Job) -> JobFailed:
        return self._p.call(self._a.failure_of(job))

    def wait_or_cancel(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float = 2.0,
        on_progress: ProgressCallback | None = None,
        raise_on_failure: bool = True,
    ) -> Job:
        return self._p.call(
            self._a.wait_or_cancel(
                job_id,
                timeout=timeout,
                poll_interval=poll_interval,
                on_progress=on_progress,
                raise_on_failure=raise_on_failure,
            )
        )

    def cancel_overdue(self, job_id: str) -> CancelOutcome:
        return self._p.call(self._a.cancel_overdue(job_id))

    def submit_or_reattach(
        self,
        spec: JobSpec,
        *,
        key: str | None,
        generation: int = 0,
        after: Job | None = None,
        retry_from_failure: bool = False,
    ) -> Attached:
        return self._p.call(
            self._a.submit_or_reattach(
                spec, key=key, generation=generation, after=after, retry_from_failure=retry_from_failure
            )
        )

    def resubmission_chain(self, job: Job) -> builtins.list[Job]:
        return self._p.call(self._a.resubmission_chain(job))

    def summarize_logs(
        self,
        job_id: str,
        *,
        on_entry: LogCallback | None = None,
        first_errors: int = FIRST_ERRORS,
        **filters: Any,
    ) -> LogSummary:
        # the entries are handed over in the caller's thread: `on_entry` may block (write a file) without
        # holding up the client's event loop
        tally = LogTally(job_id, first_errors=first_errors)
        for entry in self.iter_logs(job_id, **filters):
            tally.add(entry)
            if on_entry is not None:
                on_entry(entry)
        return tally.summary()


class Artifacts:
    """Artifact operations of a `Client` (`client.artifacts`)."""

    def __init__(self, client: AsyncClient, portal: Portal) -> None:
        self._a = client.artifacts
        self._p = portal

    def get(self, artifact_id: str) -> Artifact:
        return self._p.call(self._a.get(artifact_id))

    def read(self, artifact_id: str, *, skip: int = 0) -> Generator[Any, None, None]:
        return self._p.iterate(self._a.read(artifact_id, skip=skip))

    def delete(self, artifact_id: str, *, dry_run: bool = False) -> DeletePlan:
        return self._p.call(self._a.delete(artifact_id, dry_run=dry_run))


class Steps:
    """The processing steps of a `Client`'s platform (`client.steps`)."""

    def __init__(self, client: AsyncClient, portal: Portal) -> None:
        self._a = client.steps
        self._p = portal

    def list(self) -> builtins.list[StepInfo]:
        return self._p.call(self._a.list())


class Client:
    """jobnode's synchronous client; the same arguments as `AsyncClient`.

    Example:
        ```python
        with jobnode.Client("http://127.0.0.1:8765", token="s3cret") as client:
            job = client.jobs.create(name="nightly", step="sentiment", items=["good", "bad"], batch_size=100)
            job = client.jobs.wait(job.id, timeout=600)
            for entry in client.jobs.iter_logs(job.id):
                print(entry.level, entry.item, entry.status)
        ```
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        platform: str = "local",
        backend: Backend | None = None,
        **options: Any,
    ) -> None:
        self._async = AsyncClient(url, token, platform=platform, backend=backend, **options)
        self._portal = Portal()
        self.jobs = Jobs(self._async, self._portal)
        self.artifacts = Artifacts(self._async, self._portal)
        self.steps = Steps(self._async, self._portal)

    @property
    def backend(self) -> Backend:
        return self._async.backend

    @property
    def platform(self) -> str:
        return self._async.platform

    def job_url(self, job_id: str) -> str:
        return self._async.job_url(job_id)

    def close(self) -> None:
        self._portal.call(self._async.aclose())
        self._portal.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
