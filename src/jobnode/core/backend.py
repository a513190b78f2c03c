"""The `Backend` protocol: what every platform implements over its wire protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from jobnode.core.models import (
    Artifact,
    DeletePlan,
    Job,
    JobError,
    JobEvent,
    JobResult,
    JobSpec,
    JobState,
    LogEntry,
    LogLevel,
    Page,
)


@dataclass(frozen=True)
class Capabilities:
    """What a platform can do; asking for anything else raises `UnsupportedOperation`."""

    cancel: bool = True
    delete: bool = True
    logs: bool = True
    watch: bool = False
    bulk_status: bool = False
    artifacts: bool = False
    lineage: bool = False


@dataclass(frozen=True)
class LogQuery:
    """Filters for reading a job's log entries."""

    after_time: datetime | None = None
    before_time: datetime | None = None
    min_level: LogLevel | None = None
    kind: str | None = None
    limit: int = 1000
    cursor: str | None = None
    order: Literal["asc", "desc"] = "asc"


@dataclass(frozen=True)
class ListQuery:
    """Filters for listing jobs."""

    state: Sequence[JobState] | None = None
    tag: str | None = None
    name: str | None = None
    ids: Sequence[str] | None = None
    limit: int = 100
    cursor: str | None = None


@runtime_checkable
class Backend(Protocol):
    """One platform's jobs, behind jobnode's vocabulary. Async only: the sync client wraps it."""

    platform: str
    capabilities: Capabilities

    async def create_job(self, spec: JobSpec, *, idempotency_key: str | None = None) -> Job: ...

    async def plan_job(self, spec: JobSpec) -> dict[str, Any]: ...

    async def get_job(self, job_id: str) -> Job: ...

    async def list_jobs(self, query: ListQuery) -> Page[Job]: ...

    async def cancel_job(self, job_id: str) -> Job: ...

    async def delete_job(
        self, job_id: str, *, delete_outputs: bool = False, delete_subjobs: bool = False, dry_run: bool = False
    ) -> DeletePlan: ...

    async def get_logs(self, job_id: str, query: LogQuery) -> Page[LogEntry]: ...

    async def get_errors(self, job_id: str, *, limit: int = 100) -> list[JobError]: ...

    async def get_result(self, job_id: str) -> JobResult: ...

    async def get_events(self, job_id: str) -> list[JobEvent]: ...

    def watch(self, job_ids: Sequence[str]) -> AsyncIterator[Job]: ...

    async def get_artifact(self, artifact_id: str) -> Artifact: ...

    def read_artifact(self, artifact_id: str) -> AsyncIterator[Any]: ...

    async def delete_artifact(self, artifact_id: str) -> None: ...

    def job_url(self, job_id: str) -> str: ...

    async def aclose(self) -> None: ...
