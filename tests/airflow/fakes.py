"""An in-memory platform for unit tests of the provider: jobs whose state a test sets, errors it injects, and
counts of every call (the poller's promises are about how many requests it makes)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from jobnode.core.backend import Capabilities, ListQuery
from jobnode.core.errors import Conflict, NotFound
from jobnode.core.models import ArtifactRef, Job, JobError, JobSpec, JobState, Page


class FakeBackend:
    """Jobs in memory; `calls` counts each method, `failures[method]` holds errors the next calls raise."""

    platform = "local"

    def __init__(self, *, watch: bool = True, bulk_status: bool = True) -> None:
        self.capabilities = Capabilities(watch=watch, bulk_status=bulk_status, artifacts=True, lineage=True)
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
        job = Job(id=f"job_{self._next:04d}", state=state, url=f"http://fake:1/v1/jobs/job_{self._next:04d}", **fields)
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
            raise NotFound(f"no job {job_id!r}", platform="local") from None

    # -- the Backend protocol ------------------------------------------------------------------------------------

    async def create_job(self, spec: JobSpec, *, idempotency_key: str | None = None) -> Job:
        self._call("create_job")
        if idempotency_key in self.keys:
            job_id = self.keys[idempotency_key]
            if self.specs[job_id] != spec:
                raise Conflict("this Idempotency-Key was used for a different request", platform="local")
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
        ids = query.ids or list(self.jobs)
        return Page(data=[self.jobs[j] for j in ids if j in self.jobs])

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
            raise NotFound(f"ids: no job(s) {', '.join(missing)}", platform="local")
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
        return f"http://fake:1/v1/jobs/{job_id}"

    async def aclose(self) -> None:
        self.closed = True


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until `condition()` holds (the code under test runs in the same event loop)."""
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")
