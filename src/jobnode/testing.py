"""Helpers for testing code that uses jobnode, as httpx ships a mock transport.

- `InMemoryBackend`: a platform in memory, behind a real `jobnode.AsyncClient` or `jobnode.Client`
  (`jobnode.Client(backend=InMemoryBackend())`);
- `ServiceProcess`: a real local job service in a child process, on a free port of 127.0.0.1.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from jobnode.core.backend import Capabilities, ListQuery, Sweep
from jobnode.core.errors import Conflict, NotFound
from jobnode.core.models import (
    ArtifactRef,
    DeleteBlocker,
    DeletePlan,
    DeleteStep,
    Job,
    JobError,
    JobResult,
    JobSpec,
    JobState,
    Page,
)
from jobnode.service.process import ServiceProcess

__all__ = ["InMemoryBackend", "ServiceProcess"]


class InMemoryBackend:
    """A platform in memory, for tests of code that uses jobnode: jobs whose state a test sets, errors it injects,
    and a count of every call (`calls`), so that a test can say how many requests its code made.

    Example:
        ```python
        backend = InMemoryBackend(watch=False)
        async with jobnode.AsyncClient(backend=backend) as client:
            job = await client.jobs.create(step="identity", items=[1])
            backend.set(job.id, JobState.SUCCEEDED)
            assert (await client.jobs.wait(job.id, poll_interval=0.01)).state is JobState.SUCCEEDED
        ```

    Args:
        watch: offer a push channel (`client.jobs.watch` then costs no polling).
        bulk_status: read many jobs in one `list_jobs` call.
        sweep: how the job list pages (newest first, `sweep.page_size` jobs a page at most), or None.
    """

    platform = "memory"

    def __init__(self, *, watch: bool = True, bulk_status: bool = True, sweep: Sweep | None = None) -> None:
        self.capabilities = Capabilities(
            cancel=True,
            delete=True,
            errors=True,
            watch=watch,
            bulk_status=bulk_status,
            tags=True,
            idempotency=True,
            sweep=sweep,
        )
        self.jobs: dict[str, Job] = {}
        self.keys: dict[str, str] = {}
        self.specs: dict[str, JobSpec] = {}
        self.errors: dict[str, list[JobError]] = {}
        self.calls: Counter[str] = Counter()
        self.failures: dict[str, list[BaseException]] = {}
        self.watch_sizes: list[int] = []
        self.on_create: Callable[[Job], None] | None = None
        self.closed = False
        self._changed = asyncio.Event()
        self._next = 0

    # -- what tests do -------------------------------------------------------------------------------------------

    def add(self, state: JobState = JobState.RUNNING, **fields: Any) -> Job:
        self._next += 1
        job_id = f"job_{self._next:04d}"
        job = Job(id=job_id, state=state, platform=self.platform, url=self.job_url(job_id), **fields)
        self.jobs[job.id] = job
        return job

    def set(self, job_id: str, state: JobState, *, reason: str | None = None, **fields: Any) -> None:
        job = self.jobs[job_id]
        update = {"state": state, "reason": reason, "updated_at": datetime.now(UTC), **fields}
        if state is JobState.SUCCEEDED and "outputs" not in fields:
            update["outputs"] = [ArtifactRef(id=f"art_{job_id}", name="results", job_id=job_id)]
        self.jobs[job_id] = job.model_copy(update=update)
        self._notify()

    def remove(self, job_id: str) -> None:
        del self.jobs[job_id]
        self._notify()

    def fail_next(self, method: str, *errors: BaseException) -> None:
        """Make the next calls of `method` (a backend method's name) raise `errors`, one each."""
        self.failures.setdefault(method, []).extend(errors)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _call(self, method: str) -> None:
        self.calls[method] += 1
        pending = self.failures.get(method)
        if pending:
            raise pending.pop(0)

    def _job(self, job_id: str) -> Job:
        try:
            return self.jobs[job_id]
        except KeyError:
            raise NotFound(f"no job {job_id!r}", platform=self.platform) from None

    # -- the Backend protocol ------------------------------------------------------------------------------------

    async def create_job(self, spec: JobSpec, *, idempotency_key: str | None = None) -> Job:
        self._call("create_job")
        if idempotency_key in self.keys:
            job_id = self.keys[idempotency_key]
            if self.specs[job_id] != spec:
                raise Conflict("this Idempotency-Key was used for a different request", platform=self.platform)
            return self.jobs[job_id]
        job = self.add(JobState.QUEUED, name=spec.name)
        self.specs[job.id] = spec
        if idempotency_key:
            self.keys[idempotency_key] = job.id
        if self.on_create is not None:
            self.on_create(job)  # what happens on the platform right after it answered
        return job

    async def get_job(self, job_id: str) -> Job:
        self._call("get_job")
        return self._job(job_id)

    async def list_jobs(self, query: ListQuery) -> Page[Job]:
        self._call("list_jobs")
        ids = query.ids if query.ids is not None else list(reversed(self.jobs))
        jobs = [self.jobs[j] for j in ids if j in self.jobs]
        if query.state:
            jobs = [j for j in jobs if j.state in query.state]
        if query.tag:
            jobs = [j for j in jobs if query.tag in j.tags]
        if query.name:
            jobs = [j for j in jobs if j.name == query.name]
        if query.ids is not None:
            return Page(data=jobs)
        start = int(query.cursor or 0)
        end = start + query.limit
        return Page(data=jobs[start:end], next_cursor=str(end) if end < len(jobs) else None)

    async def get_result(self, job_id: str) -> JobResult:
        self._call("get_result")
        job = self._job(job_id)
        return JobResult(job_id=job.id, state=job.state, progress=job.progress)

    async def delete_job(
        self, job_id: str, *, delete_outputs: bool = False, delete_subjobs: bool = False, dry_run: bool = False
    ) -> DeletePlan:
        self._call("delete_job")
        job = self._job(job_id)
        if not job.is_terminal:
            blocker = DeleteBlocker(kind="job_state", id=job_id, reason=f"job is {job.state.value}")
            plan = DeletePlan(job_id=job_id, targets=[job_id], allowed=False, dry_run=dry_run, blockers=[blocker])
            raise Conflict(f"job {job_id} cannot be deleted: {blocker.reason}", details=plan.model_dump(mode="json"))
        plan = DeletePlan(
            job_id=job_id,
            targets=[job_id],
            allowed=True,
            dry_run=dry_run,
            steps=[DeleteStep(action="delete_job", id=job_id)],
        )
        if not dry_run:
            self.remove(job_id)
        return plan

    async def cancel_job(self, job_id: str) -> Job:
        self._call("cancel_job")
        job = self._job(job_id)
        if not job.is_terminal:
            self.set(job_id, JobState.CANCELLED, reason="cancelled by request")
        return self.jobs[job_id]

    async def get_errors(self, job_id: str, *, limit: int = 100) -> list[JobError]:
        self._call("get_errors")
        return self.errors.get(job_id, [])[:limit]

    async def watch(self, job_ids: Sequence[str]) -> AsyncIterator[Job]:
        self._call("watch")
        self.watch_sizes.append(len(job_ids))
        missing = [j for j in job_ids if j not in self.jobs]
        if missing:
            raise NotFound(f"ids: no job(s) {', '.join(missing)}", platform=self.platform)
        seen: dict[str, Job] = {}
        while True:
            changed = self._changed
            for job_id in job_ids:
                job = self.jobs.get(job_id)
                if job is not None and seen.get(job_id) != job:
                    seen[job_id] = job
                    yield job
            if all(j.is_terminal for j in seen.values()) and len(seen) == len(job_ids):
                return
            await changed.wait()

    def job_url(self, job_id: str) -> str:
        return f"http://memory.invalid/jobs/{job_id}"

    async def aclose(self) -> None:
        self.closed = True
