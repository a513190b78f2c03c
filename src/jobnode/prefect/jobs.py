"""What every Prefect task, block and hook of jobnode does with remote jobs, over a `jobnode.AsyncClient`: submit
(idempotently, tagged with the flow run), wait (with progress, cancelling on timeout), forward logs, cancel, clean
up. The job behaviours themselves are the client's (`submit_or_reattach`, `wait_or_cancel`, `summarize_logs`);
this module translates them into Prefect's run logger and artifacts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from jobnode.client import AsyncClient, CancelledOnTimeout, CleanupReport, LogSummary, failure_report, format_entry
from jobnode.core.errors import JobFailed, UnsupportedOperation, WaitTimeout
from jobnode.core.models import ACTIVE_STATES, Job, JobSpec, LogEntry, LogLevel
from jobnode.prefect.artifacts import ProgressReport, publish_summary
from jobnode.prefect.context import current_flow_run_id, flow_run_tag, run_logger, submit_key, tagged

#: how long a cancel waits for the job to reach a terminal state
CANCEL_GRACE = 30.0


async def submit(
    client: AsyncClient,
    spec: JobSpec,
    *,
    key: str | None = None,
    idempotent: bool = True,
    retry_from_failure: bool = False,
) -> Job:
    """Create the job, or reattach to the one this flow run already started for the same request (and `key`).

    Inside a flow run the job is tagged `prefect-flow-run:<id>`. With `idempotent`, it is created under idempotency
    keys derived from the flow run, `key` and the request (`AsyncJobs.submit_or_reattach`): a retried task, or a
    retry of the flow run after a crash, finds the job it started; a retry after the job failed starts a new one
    (with `retry_from_failure`, one over the failed items only, where the platform can resubmit).
    """
    flow_run_id = current_flow_run_id()
    spec = tagged(spec, flow_run_id)
    attached = await client.jobs.submit_or_reattach(
        spec, key=submit_key(flow_run_id, key) if idempotent else None, retry_from_failure=retry_from_failure
    )
    job = attached.job
    logger = run_logger()
    if attached.how == "resubmitted":
        logger.info("job %s runs the failed items of the job before it again: %s", job.id, job.url)
    logger.info("job %s (%s) is %s: %s", job.id, job.name, job.state.value, job.url or client.job_url(job.id))
    return job


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
    unless `cancel_on_timeout` is false; then `WaitTimeout` (or the cancellation) propagates. A job that did not
    succeed raises `JobFailed` (with `raise_on_failure`), after its reason and last errors went to the run log.
    """
    logger = run_logger()
    waiter = client.jobs.wait_or_cancel if cancel_on_timeout else client.jobs.wait
    async with ProgressReport(job_id, logger, every=log_every) as report:
        try:
            return await waiter(
                job_id,
                timeout=timeout,
                poll_interval=poll_interval,
                on_progress=report.update,
                raise_on_failure=raise_on_failure,
            )
        except CancelledOnTimeout as exc:
            if exc.last is not None:
                report.update(exc.last)
            logger.warning("%s", exc)
            raise
        except WaitTimeout as exc:
            logger.warning("%s", exc)
            raise
        except JobFailed as exc:
            report.update(exc.job)
            logger.error("%s", failure_report(exc))
            raise
        except asyncio.CancelledError:
            if cancel_on_timeout:
                logger.warning("the wait for job %s was interrupted, so the job was cancelled", job_id)
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

    def forward(entry: LogEntry) -> None:
        logger.log(entry.level.rank, "%s %s", job_id, format_entry(entry))

    summary = await client.jobs.summarize_logs(
        job_id,
        on_entry=forward,
        first_errors=first_errors,
        min_level=min_level,
        after_time=after_time,
        before_time=before_time,
        kind=kind,
    )
    await publish_summary(summary, await client.jobs.get(job_id))
    return summary


async def flow_run_jobs(client: AsyncClient, flow_run_id: str, *, active_only: bool = False) -> list[Job]:
    """The jobs a flow run submitted, found by their tag (from any process, at any time)."""
    jobs: list[Job] = []
    cursor: str | None = None
    while True:
        page = await client.jobs.list(
            tag=flow_run_tag(flow_run_id), state=list(ACTIVE_STATES) if active_only else None, limit=1000, cursor=cursor
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
