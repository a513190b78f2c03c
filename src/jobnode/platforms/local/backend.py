"""The `local` backend: the native API of `jobnode serve` over async httpx."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import httpx
from httpx_sse import EventSource
from pydantic import TypeAdapter

from jobnode.core.backend import ListQuery, LogQuery
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
    LogEntry,
    Page,
    StepInfo,
)
from jobnode.core.ratelimit import RequestLimiter
from jobnode.core.transport import IDEMPOTENCY_HEADER, BearerAuth, RetryPolicy, Transport
from jobnode.platforms.local import PLATFORM
from jobnode.platforms.local.settings import LocalSettings

_JOB_PAGE = TypeAdapter(Page[Job])
_LOG_PAGE = TypeAdapter(Page[LogEntry])
_ERRORS = TypeAdapter(list[JobError])
_EVENTS = TypeAdapter(list[JobEvent])
_DEAD_LETTERS = TypeAdapter(list[DeadLetter])
_STEPS = TypeAdapter(list[StepInfo])

DEFAULT_URL = "http://127.0.0.1:8765"
#: pages a log segment holds, about, and the most segments a log is cut into
SEGMENT_PAGES = 4
MAX_SEGMENTS = 64


def _data(response: httpx.Response) -> Any:
    return response.json()["data"]


class LocalBackend:
    """Jobs on a jobnode local service.

    Example:
        ```python
        backend = LocalBackend("http://127.0.0.1:8765", token="s3cret")
        job = await backend.get_job("job_0123")
        ```
    """

    platform = PLATFORM.name
    capabilities = PLATFORM.capabilities

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: Transport | None = None,
        limiter: RequestLimiter | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.transport = transport or Transport(
            self.url,
            auth=BearerAuth(token) if token else None,
            timeout=timeout,
            retry=retry,
            platform="local",
            limiter=limiter,
        )

    @classmethod
    def from_settings(cls, settings: LocalSettings) -> LocalBackend:
        return cls(settings.url, token=settings.secret(), timeout=settings.timeout, limiter=settings.limiter())

    async def aclose(self) -> None:
        await self.transport.aclose()

    def job_url(self, job_id: str) -> str:
        """The job's page in the service's web console (what the native API's `url` field holds too)."""
        return f"{self.url}/ui/jobs/{job_id}"

    async def _get(self, path: str, **params: Any) -> httpx.Response:
        return await self.transport.request("GET", path, params=params)

    # -- jobs ---------------------------------------------------------------------------------------------------

    async def create_job(self, spec: JobSpec, *, idempotency_key: str | None = None) -> Job:
        headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key else None
        response = await self.transport.request(
            "POST", "/v1/jobs", json=spec.model_dump(mode="json", exclude_none=True), headers=headers
        )
        return Job.model_validate_json(response.content)

    async def plan_job(self, spec: JobSpec) -> JobPlan:
        response = await self.transport.request(
            "POST",
            "/v1/jobs",
            params={"dry_run": "true"},
            json=spec.model_dump(mode="json", exclude_none=True),
            retry_unsafe=True,
        )
        return JobPlan.model_validate_json(response.content)

    async def get_job(self, job_id: str) -> Job:
        return Job.model_validate_json((await self._get(f"/v1/jobs/{job_id}")).content)

    async def list_jobs(self, query: ListQuery) -> Page[Job]:
        response = await self._get(
            "/v1/jobs",
            state=",".join(s.value for s in query.state) if query.state else None,
            tag=query.tag,
            name=query.name,
            ids=",".join(query.ids) if query.ids is not None else None,
            limit=query.limit,
            cursor=query.cursor,
        )
        return _JOB_PAGE.validate_json(response.content)

    async def cancel_job(self, job_id: str) -> Job:
        response = await self.transport.request("POST", f"/v1/jobs/{job_id}/cancel", retry_unsafe=True)
        return Job.model_validate_json(response.content)

    async def delete_job(
        self, job_id: str, *, delete_outputs: bool = False, delete_subjobs: bool = False, dry_run: bool = False
    ) -> DeletePlan:
        response = await self.transport.request(
            "DELETE",
            f"/v1/jobs/{job_id}",
            params={
                "delete_outputs": json.dumps(delete_outputs),
                "delete_subjobs": json.dumps(delete_subjobs),
                "dry_run": json.dumps(dry_run),
            },
        )
        return DeletePlan.model_validate_json(response.content)

    async def get_logs(self, job_id: str, query: LogQuery) -> Page[LogEntry]:
        response = await self._get(
            f"/v1/jobs/{job_id}/logs",
            after_time=query.after_time.isoformat() if query.after_time else None,
            before_time=query.before_time.isoformat() if query.before_time else None,
            min_level=query.min_level.value if query.min_level else None,
            kind=query.kind,
            limit=query.limit,
            cursor=query.cursor,
            order=query.order,
        )
        return _LOG_PAGE.validate_json(response.content)

    async def log_segments(self, job_id: str, query: LogQuery) -> list[LogQuery]:
        """The job's time span cut into segments of about `SEGMENT_PAGES` pages each (estimated from the job's
        item counts: a log holds about one entry per item and step), so that a long log is read several segments
        at once; a short one is one segment."""
        job = await self.get_job(job_id)
        progress = job.progress
        entries = (progress.items_done + progress.items_delivered + progress.items_failed_delivery) or 0
        count = min(MAX_SEGMENTS, -(-entries // (query.limit * SEGMENT_PAGES)))
        start = query.after_time or job.created_at
        end = query.before_time or job.ended_at
        if count <= 1 or start is None or end is None or end <= start:
            return [query]
        step = (end - start) / count
        cuts = [start + step * i for i in range(1, count)]
        # boundaries are exclusive on the service: "after cut - 1 µs" and "before cut" meet without a gap
        bounds = [query.after_time, *(c - timedelta(microseconds=1) for c in cuts)]
        segments = [
            dataclasses.replace(query, after_time=low, before_time=high, cursor=None)
            for low, high in zip(bounds, [*cuts, query.before_time], strict=True)
        ]
        return segments if query.order == "asc" else segments[::-1]

    async def get_errors(self, job_id: str, *, limit: int = 100) -> list[JobError]:
        return _ERRORS.validate_python(_data(await self._get(f"/v1/jobs/{job_id}/errors", limit=limit)))

    async def get_result(self, job_id: str) -> JobResult:
        return JobResult.model_validate_json((await self._get(f"/v1/jobs/{job_id}/result")).content)

    async def get_events(self, job_id: str) -> list[JobEvent]:
        return _EVENTS.validate_python(_data(await self._get(f"/v1/jobs/{job_id}/events")))

    async def get_dead_letters(self, job_id: str) -> list[DeadLetter]:
        return _DEAD_LETTERS.validate_python(_data(await self._get(f"/v1/jobs/{job_id}/dead-letters")))

    async def resubmit_failed(
        self, job_id: str, overrides: dict[str, Any], *, idempotency_key: str | None = None
    ) -> Job:
        headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key else None
        response = await self.transport.request(
            "POST", f"/v1/jobs/{job_id}/resubmit-failed", json=overrides, headers=headers
        )
        return Job.model_validate_json(response.content)

    async def watch(self, job_ids: Sequence[str]) -> AsyncIterator[Job]:
        """The named jobs now, then each change; ends when all of them have ended."""
        timeout = httpx.Timeout(30.0, read=None)
        params = {"ids": ",".join(job_ids)}
        async with self.transport.stream("GET", "/v1/watch", params=params, timeout=timeout) as response:
            async for event in EventSource(response).aiter_sse():  # heartbeats (comments) are skipped
                if event.event == "job":
                    yield Job.model_validate_json(event.data)

    # -- artifacts ----------------------------------------------------------------------------------------------

    async def get_artifact(self, artifact_id: str) -> Artifact:
        return Artifact.model_validate_json((await self._get(f"/v1/artifacts/{artifact_id}")).content)

    async def read_artifact(self, artifact_id: str, *, skip: int = 0) -> AsyncIterator[Any]:
        """Each record from number `skip` on; a read cut short by a transient error resumes where it stopped."""
        async for line in self.transport.resumable_lines(f"/v1/artifacts/{artifact_id}/content", skip=skip):
            yield json.loads(line)

    async def delete_artifact(self, artifact_id: str, *, dry_run: bool = False) -> DeletePlan:
        response = await self.transport.request(
            "DELETE", f"/v1/artifacts/{artifact_id}", params={"dry_run": json.dumps(dry_run)}
        )
        return DeletePlan.model_validate_json(response.content)

    # -- steps --------------------------------------------------------------------------------------------------

    async def list_steps(self) -> list[StepInfo]:
        return _STEPS.validate_python(_data(await self._get("/v1/steps")))
