"""What every Prefect task, block and hook of jobnode does with remote jobs, written once over a `jobnode.AsyncClient`:
submit (idempotently, tagged with the flow run), wait (with progress, cancelling on timeout), forward logs, cancel,
clean up. The tasks are thin wrappers; nothing here does I/O except through the client and Prefect's artifacts.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

import anyio

from jobnode.client import AsyncClient, CleanupReport
from jobnode.core.errors import Conflict, NotFound, UnsupportedOperation, WaitTimeout
from jobnode.core.models import Job, JobSpec, JobState, LogEntry, LogLevel
from jobnode.prefect.artifacts import ProgressReport, format_entry, publish_summary
from jobnode.prefect.context import current_flow_run_id, flow_run_tag, idempotency_key, run_logger, tagged
from jobnode.prefect.models import LogSummary

#: how long a cancel waits for the job to reach a terminal state
CANCEL_GRACE = 30.0
#: a submit whose earlier jobs were all deleted moves on to a fresh key at most this many times
MAX_GENERATIONS = 100

_LOG_LEVELS = {
    LogLevel.DEBUG: logging.DEBUG,
    LogLevel.INFO: logging.INFO,
    LogLevel.WARNING: logging.WARNING,
    LogLevel.ERROR: logging.ERROR,
}
_ACTIVE = [s for s in JobState if not s.is_terminal]


async def submit(client: AsyncClient, spec: JobSpec, *, key: str | None = None) -> Job:
    """Create the job, or reattach to the one this flow run already created for the same spec (or `key`).

    Inside a flow run the job is tagged `prefect-flow-run:<id>` and created under an idempotency key derived from
    the flow run and the spec. If that job was deleted since (a cleanup ran before the flow run was retried), the
    submit creates a new job under the next key, so that a later retry reattaches to the new one.
    """
    flow_run_id = current_flow_run_id()
    spec = tagged(spec, flow_run_id)
    for generation in range(MAX_GENERATIONS):
        ikey = idempotency_key(flow_run_id, spec, key, generation)
        try:
            job = await client.jobs.create(spec, idempotency_key=ikey)
        except Conflict as exc:
            if await _deleted_under_key(client, exc):
                continue
            if key is None:
                raise
            raise Conflict(
                f"the submit key {key!r} was already used in this flow run for a different job; give each job its "
                "own key",
                status_code=exc.status_code,
                code=exc.code,
                details=exc.details,
                platform=exc.platform,
            ) from exc
        run_logger().info("job %s (%s) is %s: %s", job.id, job.name, job.state.value, job.url or client.job_url(job.id))
        return job
    raise Conflict(f"the jobs of {MAX_GENERATIONS} submits under this key were all deleted; pass a new key")


async def _deleted_under_key(client: AsyncClient, exc: Conflict) -> bool:
    """Whether an idempotency conflict is about a job that was deleted (rather than a different request)."""
    job_id = exc.details.get("job_id") if isinstance(exc.details, dict) else None
    if not job_id:
        return False
    try:
        await client.jobs.get(job_id)
    except NotFound:
        return True
    return False


async def wait(
    client: AsyncClient,
    job_id: str,
    *,
    timeout: float | None = None,
    poll_interval: float = 2.0,
    cancel_on_timeout: bool = True,
    raise_on_failure: bool = True,
    log_every: float = 10.0,
) -> Job:
    """Wait for the job to end, keeping its progress artifact and a throttled progress line current.

    Transient errors (the service restarting, a 503) are waited out by the client. After `timeout` seconds, or when
    the wait itself is cancelled (a Prefect task timeout, a cancelled flow run), the remote job is cancelled too
    unless `cancel_on_timeout` is false; then `WaitTimeout` (or the cancellation) propagates.
    """
    logger = run_logger()
    async with ProgressReport(job_id, logger, every=log_every) as report:
        try:
            return await client.jobs.wait(
                job_id,
                timeout=timeout,
                poll_interval=poll_interval,
                on_progress=report.update,
                raise_on_failure=raise_on_failure,
            )
        except WaitTimeout:
            if cancel_on_timeout:
                job = await cancel(client, job_id)
                report.update(job)
                if client.backend.capabilities.cancel:
                    logger.warning(
                        "job %s was not finished after %gs, so it was cancelled (%s)", job_id, timeout, job.state.value
                    )
            raise
        except asyncio.CancelledError:
            if cancel_on_timeout:
                # Prefect cancels with anyio scopes, which would cancel this clean-up too unless shielded.
                with anyio.CancelScope(shield=True), anyio.move_on_after(CANCEL_GRACE):
                    job = await cancel(client, job_id, grace=0)
                    if client.backend.capabilities.cancel:
                        logger.warning(
                            "the wait for job %s was interrupted, so the job was cancelled (%s)",
                            job_id,
                            job.state.value,
                        )
            raise


async def cancel(client: AsyncClient, job_id: str, *, grace: float = CANCEL_GRACE) -> Job:
    """Cancel the job and wait up to `grace` seconds for it to stop; cancelling an ended job changes nothing. On a
    platform that cannot cancel jobs (Nucleus) it cancels nothing, says so, and returns the job as it is."""
    if not client.backend.capabilities.cancel:
        job = await client.jobs.get(job_id)
        run_logger().warning(
            "job %s was not cancelled and goes on (it is %s): the %s platform cannot cancel jobs",
            job_id,
            job.state.value,
            client.platform,
        )
        return job
    job = await client.jobs.cancel(job_id)
    if job.is_terminal or grace <= 0:
        return job
    try:
        return await client.jobs.wait(job_id, timeout=grace)
    except WaitTimeout as exc:
        return exc.last if isinstance(exc.last, Job) else job


async def forward_logs(
    client: AsyncClient,
    job_id: str,
    *,
    min_level: LogLevel | str | None = None,
    after_time: datetime | None = None,
    before_time: datetime | None = None,
    kind: str | None = None,
    first_errors: int = 10,
) -> LogSummary:
    """Stream the job's log entries (page by page, in constant memory) into the run logger, each at its level, and
    publish the markdown and table artifacts of the job. A platform without a logs API (Cortex) forwards none, and
    says so in a warning."""
    logger = run_logger()
    if not client.backend.capabilities.logs:
        logger.warning(
            "%s: job %s has no log entries to forward", UnsupportedOperation(client.platform, "logs"), job_id
        )
        summary = LogSummary(job_id=job_id)
        await publish_summary(summary, await client.jobs.get(job_id))
        return summary
    counts: Counter[str] = Counter()
    errors: list[LogEntry] = []
    async for entry in client.jobs.iter_logs(
        job_id, min_level=min_level, after_time=after_time, before_time=before_time, kind=kind
    ):
        counts[entry.level.value] += 1
        if entry.level is LogLevel.ERROR and len(errors) < first_errors:
            errors.append(entry)
        logger.log(_LOG_LEVELS[entry.level], "%s", format_entry(job_id, entry))
    summary = LogSummary(job_id=job_id, entries=sum(counts.values()), by_level=dict(counts), first_errors=errors)
    await publish_summary(summary, await client.jobs.get(job_id))
    return summary


async def flow_run_jobs(client: AsyncClient, flow_run_id: str, *, active_only: bool = False) -> list[Job]:
    """The jobs a flow run submitted, found by their tag (from any process, at any time)."""
    jobs: list[Job] = []
    cursor: str | None = None
    while True:
        page = await client.jobs.list(
            tag=flow_run_tag(flow_run_id), state=_ACTIVE if active_only else None, limit=1000, cursor=cursor
        )
        jobs.extend(page.data)
        if not page.next_cursor:
            return jobs
        cursor = page.next_cursor


async def cancel_flow_run_jobs(client: AsyncClient, flow_run_id: str) -> list[Job]:
    """Cancel every job of the flow run that has not ended yet (none, saying so, where the platform cannot)."""
    if not client.backend.capabilities.cancel:
        run_logger().warning(
            "the jobs of flow run %s were not cancelled and go on: the %s platform cannot cancel jobs",
            flow_run_id,
            client.platform,
        )
        return []
    active = await flow_run_jobs(client, flow_run_id, active_only=True)
    cancelled = await asyncio.gather(*(cancel(client, job.id, grace=0) for job in active))
    if cancelled:
        run_logger().warning(
            "cancelled %d job(s) of flow run %s: %s", len(cancelled), flow_run_id, ", ".join(j.id for j in cancelled)
        )
    return list(cancelled)


async def cleanup(
    client: AsyncClient,
    job_ids: Sequence[str] | None = None,
    *,
    delete_outputs: bool = True,
    protect: Sequence[str] = (),
    dry_run: bool = False,
) -> CleanupReport:
    """Delete what the lineage rules allow of the jobs (by default, every job of the current flow run) and keep the
    rest, saying why."""
    logger = run_logger()
    if not client.backend.capabilities.delete:
        logger.warning("nothing was deleted: the %s platform cannot delete jobs", client.platform)
        job_ids = job_ids or []  # every job is kept, with the reason; no need to find the flow run's
    if job_ids is None:
        flow_run_id = current_flow_run_id()
        if flow_run_id is None:
            raise ValueError("job_ids: name the jobs to clean up (outside a flow run there are no run's jobs to take)")
        job_ids = [job.id for job in await flow_run_jobs(client, flow_run_id)]
    report = await client.jobs.cleanup(list(job_ids), delete_outputs=delete_outputs, protect=protect, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    logger.info(
        "cleanup %s %d job(s) and %d artifact(s); kept %d",
        verb,
        len(report.deleted_jobs),
        len(report.deleted_artifacts),
        len(report.kept),
    )
    for blocker in report.kept:
        logger.info("not deleted: %s", blocker.reason)
    return report


async def undo(client: AsyncClient, job_id: str) -> CleanupReport:
    """Cancel the job, wait for it to stop, and delete it with its outputs (where the lineage rules allow)."""
    await cancel(client, job_id)
    return await cleanup(client, [job_id], delete_outputs=True)
