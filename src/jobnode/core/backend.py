"""What a platform's backend is: the operations every platform has, the optional ones, and the `Capabilities` that
say which optional ones a platform offers.

A backend implements `Backend` (create, get, list, result, URL, close) and, for each capability it declares, the
protocol of that capability (`CAPABILITY_PROTOCOLS`). The client checks a capability before it calls an optional
operation, in one place (`jobnode.client`), so a backend never has to raise `UnsupportedOperation` itself, and a
test checks that every registered platform implements what it declares.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

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


@dataclass(frozen=True)
class Sweep:
    """How a platform's job listing can report on many waited-for jobs at once (a "sweep"), so that waiting for N
    jobs costs a few list pages per interval instead of N requests.

    Attributes:
        page_size: the most jobs one `list_jobs` page returns.
        active_only: `list_jobs(ListQuery(state=ACTIVE_STATES))` lists only jobs that have not ended, so a sweep
            pages through those alone; otherwise it pages newest first until it has passed the oldest waited-for job.
    """

    page_size: int
    active_only: bool = False


@dataclass(frozen=True)
class Capabilities:
    """What a platform offers beyond creating, reading and listing jobs. Every flag is off unless declared.

    Attributes:
        cancel: jobs can be cancelled.
        delete: jobs can be deleted (under the lineage rules).
        logs: jobs have log entries that can be read page by page.
        watch: a push channel reports each change of many jobs (server-sent events).
        bulk_status: `list_jobs(ListQuery(ids=...))` reads many jobs in one request.
        artifacts: artifacts (inputs, outputs) can be looked up by id.
        read_artifacts: an artifact's records can be read back.
        delete_artifacts: an artifact can be deleted on its own.
        lineage: the platform knows who consumes each artifact and enforces the lineage rules when deleting.
        errors: a job's recent errors can be listed.
        events: a job's lifecycle events can be read (even after it was deleted).
        subjobs: jobs may have sub-jobs.
        dead_letters: a job's dead-lettered batches can be listed.
        resubmit: a finished job's failed items can be run again as a new job.
        plan: a job can be planned (a dry run) without creating it.
        log_segments: a job's log can be cut into consecutive segments that are read independently (by time), so
            that reading a long log can read ahead several pages at once.
        tags: jobs carry tags and can be listed by tag.
        idempotency: creating with the same idempotency key returns the same job.
        steps: the processing steps the platform runs can be listed, with their parameters.
        sweep: how `list_jobs` can report on many jobs at once (None: it cannot, or no better than `get_job`).
    """

    cancel: bool = False
    delete: bool = False
    logs: bool = False
    watch: bool = False
    bulk_status: bool = False
    artifacts: bool = False
    read_artifacts: bool = False
    delete_artifacts: bool = False
    lineage: bool = False
    errors: bool = False
    events: bool = False
    subjobs: bool = False
    dead_letters: bool = False
    resubmit: bool = False
    plan: bool = False
    log_segments: bool = False
    tags: bool = False
    idempotency: bool = False
    steps: bool = False
    sweep: Sweep | None = None

    def supports(self, capability: Capability) -> bool:
        return bool(getattr(self, capability))

    def declared(self) -> list[str]:
        """The names of the capabilities that are on."""
        return [f.name for f in fields(self) if getattr(self, f.name)]


Capability = Literal[
    "cancel",
    "delete",
    "logs",
    "watch",
    "bulk_status",
    "artifacts",
    "read_artifacts",
    "delete_artifacts",
    "lineage",
    "errors",
    "events",
    "subjobs",
    "dead_letters",
    "resubmit",
    "plan",
    "log_segments",
    "tags",
    "idempotency",
    "steps",
]


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
    """Filters for listing jobs (newest first)."""

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

    async def get_job(self, job_id: str) -> Job: ...

    async def list_jobs(self, query: ListQuery) -> Page[Job]: ...

    async def get_result(self, job_id: str) -> JobResult: ...

    def job_url(self, job_id: str) -> str: ...

    async def aclose(self) -> None: ...


# -- one protocol per optional operation ---------------------------------------------------------------------------


@runtime_checkable
class CancelsJobs(Protocol):
    async def cancel_job(self, job_id: str) -> Job: ...


@runtime_checkable
class DeletesJobs(Protocol):
    async def delete_job(
        self, job_id: str, *, delete_outputs: bool = False, delete_subjobs: bool = False, dry_run: bool = False
    ) -> DeletePlan: ...


@runtime_checkable
class ReadsLogs(Protocol):
    async def get_logs(self, job_id: str, query: LogQuery) -> Page[LogEntry]: ...


@runtime_checkable
class WatchesJobs(Protocol):
    def watch(self, job_ids: Sequence[str]) -> AsyncIterator[Job]:
        """The named jobs now, then each change; ends once all of them have ended."""
        ...


@runtime_checkable
class FindsArtifacts(Protocol):
    async def get_artifact(self, artifact_id: str) -> Artifact: ...


@runtime_checkable
class ReadsArtifacts(Protocol):
    def read_artifact(self, artifact_id: str, *, skip: int = 0) -> AsyncIterator[Any]:
        """Each record of the artifact from record number `skip` on (so that a read can resume)."""
        ...


@runtime_checkable
class DeletesArtifacts(Protocol):
    async def delete_artifact(self, artifact_id: str, *, dry_run: bool = False) -> DeletePlan: ...


@runtime_checkable
class ReadsErrors(Protocol):
    async def get_errors(self, job_id: str, *, limit: int = 100) -> list[JobError]: ...


@runtime_checkable
class ReadsEvents(Protocol):
    async def get_events(self, job_id: str) -> list[JobEvent]: ...


@runtime_checkable
class ReadsDeadLetters(Protocol):
    async def get_dead_letters(self, job_id: str) -> list[DeadLetter]: ...


@runtime_checkable
class ResubmitsFailed(Protocol):
    async def resubmit_failed(
        self, job_id: str, overrides: dict[str, Any], *, idempotency_key: str | None = None
    ) -> Job: ...


@runtime_checkable
class PlansJobs(Protocol):
    async def plan_job(self, spec: JobSpec) -> JobPlan: ...


@runtime_checkable
class SegmentsLogs(Protocol):
    async def log_segments(self, job_id: str, query: LogQuery) -> list[LogQuery]:
        """Queries for consecutive segments of the log that `query` asks for, in its order: read one after the
        other (each paged by its own cursors), they give exactly the entries of `query`."""
        ...


@runtime_checkable
class ListsSteps(Protocol):
    async def list_steps(self) -> list[StepInfo]: ...


#: the protocol a backend implements for each capability it declares (capabilities without one, such as `lineage`,
#: `tags`, `subjobs` or `idempotency`, change what the common operations do rather than add one)
CAPABILITY_PROTOCOLS: dict[str, type[Any]] = {
    "cancel": CancelsJobs,
    "delete": DeletesJobs,
    "logs": ReadsLogs,
    "watch": WatchesJobs,
    "artifacts": FindsArtifacts,
    "read_artifacts": ReadsArtifacts,
    "delete_artifacts": DeletesArtifacts,
    "errors": ReadsErrors,
    "events": ReadsEvents,
    "dead_letters": ReadsDeadLetters,
    "resubmit": ResubmitsFailed,
    "plan": PlansJobs,
    "log_segments": SegmentsLogs,
    "steps": ListsSteps,
}


def missing_operations(backend: type[Any] | object, capabilities: Capabilities) -> list[str]:
    """The declared capabilities whose operation `backend` (a class or an instance) does not implement."""
    missing = []
    for name in capabilities.declared():
        proto = CAPABILITY_PROTOCOLS.get(name)
        if proto is None:
            continue
        wanted = [m for m in dir(proto) if not m.startswith("_") and callable(getattr(proto, m, None))]
        if not all(callable(getattr(backend, m, None)) for m in wanted):
            missing.append(name)
    return missing
