"""Prefect tasks for remote batch jobs: submit, wait, fetch logs, cancel, clean up.

Each task is async; its sync twin (same name with `_sync`) runs the same code, for sync flows. Every task takes
`credentials=` (a `JobnodeCredentials` block or a platform's subclass); without it the client reads `JOBNODE_URL`
and `JOBNODE_TOKEN`.

Example:
    ```python
    from prefect import flow
    from jobnode.prefect import JobnodeCredentials, fetch_job_logs, submit_job, wait_for_job

    @flow
    async def nightly():
        credentials = await JobnodeCredentials.aload("local-service")
        job = await submit_job(credentials=credentials, name="nightly", step="sentiment", items=["good", "bad"])
        job = await wait_for_job(job.id, credentials=credentials, timeout=600)
        await fetch_job_logs(job.id, credentials=credentials, min_level="warning")
    ```
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.transactions import get_transaction

from jobnode.client import CleanupReport, LogSummary, build_spec, run_sync
from jobnode.core.models import Job, JobSpec, LogLevel
from jobnode.prefect import jobs
from jobnode.prefect.credentials import JobnodeCredentials, async_client
from jobnode.prefect.hooks import TXN_CREDENTIALS, TXN_JOB_ID, undo_submitted_job

# -- submit ------------------------------------------------------------------------------------------------------


@task(
    name="Submit jobnode job",
    description="Creates a remote batch job, or reattaches to the one this flow run already started for it.",
    cache_policy=NO_CACHE,
)
async def submit_job(
    spec: JobSpec | None = None,
    *,
    credentials: JobnodeCredentials | None = None,
    key: str | None = None,
    retry_from_failure: bool = False,
    **fields: Any,
) -> Job:
    """Submit a job, idempotently: a retried task, or a retry of the flow run after a crash, gets the job it
    started; a retry after the job failed, was cancelled or timed out starts a new one; a changed request is a new
    job.

    Args:
        spec: the job (`jobnode.JobSpec`); or give its fields as keyword arguments, as to `client.jobs.create`
            (`name`, `step`, `params`, `items=`/`files=`/`delimited=`/`artifacts=`, `batch_size`, `tags`, ...).
        credentials: where the job runs; by default `JOBNODE_URL` and `JOBNODE_TOKEN`.
        key: tells apart two submits of the same request in one flow run (by default they are one job).
        retry_from_failure: a retry after the job failed runs only its failed items again, as a new job (where the
            platform can resubmit; elsewhere the whole request runs again). Its results are then split between the
            two jobs: `client.jobs.resubmission_chain(job)` lists both.

    Returns:
        The job, tagged `prefect-flow-run:<flow run id>` so that cancelling the flow run can find it.

    Example:
        ```python
        job = await submit_job(name="nightly", step="sentiment", items=["good", "bad"], batch_size=100)
        ```
    """
    if spec is not None and fields:
        raise ValueError(f"pass either spec= or the job's fields ({', '.join(fields)}), not both")
    job_spec = spec if spec is not None else build_spec(**fields)
    async with async_client(credentials) as client:
        job = await jobs.submit(client, job_spec, key=key, retry_from_failure=retry_from_failure)
    txn = get_transaction()
    if txn is not None:
        txn.set(TXN_JOB_ID, job.id)
        txn.set(TXN_CREDENTIALS, credentials)
    return job


@task(
    name="Submit jobnode job",
    description="Creates a remote batch job, or reattaches to the one this flow run already started for it.",
    cache_policy=NO_CACHE,
)
def submit_job_sync(
    spec: JobSpec | None = None,
    *,
    credentials: JobnodeCredentials | None = None,
    key: str | None = None,
    retry_from_failure: bool = False,
    **fields: Any,
) -> Job:
    """The sync twin of `submit_job`.

    Example:
        ```python
        job = submit_job_sync(name="nightly", step="sentiment", items=["good", "bad"])
        ```
    """
    return run_sync(
        submit_job.fn(spec, credentials=credentials, key=key, retry_from_failure=retry_from_failure, **fields)
    )


submit_job.on_rollback(undo_submitted_job)
submit_job_sync.on_rollback(undo_submitted_job)


# -- wait --------------------------------------------------------------------------------------------------------


@task(
    name="Wait for jobnode job",
    description="Waits for a remote batch job to end, showing its progress; cancels it on timeout.",
    cache_policy=NO_CACHE,
)
async def wait_for_job(
    job_id: str,
    *,
    credentials: JobnodeCredentials | None = None,
    timeout: float | None = None,
    poll_interval: float = 2.0,
    cancel_on_timeout: bool = True,
    raise_on_failure: bool = True,
    log_every: float = 10.0,
) -> Job:
    """Wait until the job has ended, keeping a progress artifact and a throttled progress line in the run log.

    Args:
        job_id: the job.
        credentials: where the job runs.
        timeout: seconds to wait; then the remote job is cancelled (unless `cancel_on_timeout` is false) and the
            task fails with `jobnode.WaitTimeout`. A Prefect timeout or cancellation of the task cancels it too.
        poll_interval: seconds between status checks on platforms without a push channel.
        cancel_on_timeout: cancel the remote job when the wait times out or is interrupted.
        raise_on_failure: fail the task with `jobnode.JobFailed` (the job's reason) unless the job succeeded.
        log_every: seconds between progress lines (state changes are always logged).

    Example:
        ```python
        job = await wait_for_job(job.id, timeout=600)
        ```
    """
    async with async_client(credentials) as client:
        return await jobs.wait(
            client,
            job_id,
            timeout=timeout,
            poll_interval=poll_interval,
            cancel_on_timeout=cancel_on_timeout,
            raise_on_failure=raise_on_failure,
            log_every=log_every,
        )


@task(
    name="Wait for jobnode job",
    description="Waits for a remote batch job to end, showing its progress; cancels it on timeout.",
    cache_policy=NO_CACHE,
)
def wait_for_job_sync(
    job_id: str,
    *,
    credentials: JobnodeCredentials | None = None,
    timeout: float | None = None,
    poll_interval: float = 2.0,
    cancel_on_timeout: bool = True,
    raise_on_failure: bool = True,
    log_every: float = 10.0,
) -> Job:
    """The sync twin of `wait_for_job`.

    Example:
        ```python
        job = wait_for_job_sync(job.id, timeout=600)
        ```
    """
    return run_sync(
        wait_for_job.fn(
            job_id,
            credentials=credentials,
            timeout=timeout,
            poll_interval=poll_interval,
            cancel_on_timeout=cancel_on_timeout,
            raise_on_failure=raise_on_failure,
            log_every=log_every,
        )
    )


# -- logs --------------------------------------------------------------------------------------------------------


@task(
    name="Fetch jobnode job logs",
    description="Streams a job's log entries into the run log; publishes log counts, first errors, item counts.",
    cache_policy=NO_CACHE,
)
async def fetch_job_logs(
    job_id: str,
    *,
    credentials: JobnodeCredentials | None = None,
    min_level: LogLevel | str | None = None,
    after_time: datetime | None = None,
    before_time: datetime | None = None,
    kind: str | None = None,
    first_errors: int = 10,
) -> LogSummary:
    """Stream the job's log entries into the run logger, each at its own level, in constant memory whatever the
    size of the log; then publish a markdown artifact (entries by level, the first errors) and a table artifact
    (the final item counts).

    Args:
        job_id: the job.
        credentials: where the job runs.
        min_level: skip entries below this level (`debug`, `info`, `warning`, `error`).
        after_time: only entries after this time.
        before_time: only entries before this time.
        kind: only entries of this kind.
        first_errors: how many errors the summary keeps.

    Example:
        ```python
        summary = await fetch_job_logs(job.id, min_level="warning")
        print(summary.by_level)
        ```
    """
    async with async_client(credentials) as client:
        return await jobs.forward_logs(
            client,
            job_id,
            min_level=min_level,
            after_time=after_time,
            before_time=before_time,
            kind=kind,
            first_errors=first_errors,
        )


@task(
    name="Fetch jobnode job logs",
    description="Streams a job's log entries into the run log; publishes log counts, first errors, item counts.",
    cache_policy=NO_CACHE,
)
def fetch_job_logs_sync(
    job_id: str,
    *,
    credentials: JobnodeCredentials | None = None,
    min_level: LogLevel | str | None = None,
    after_time: datetime | None = None,
    before_time: datetime | None = None,
    kind: str | None = None,
    first_errors: int = 10,
) -> LogSummary:
    """The sync twin of `fetch_job_logs`.

    Example:
        ```python
        summary = fetch_job_logs_sync(job.id, min_level="warning")
        ```
    """
    return run_sync(
        fetch_job_logs.fn(
            job_id,
            credentials=credentials,
            min_level=min_level,
            after_time=after_time,
            before_time=before_time,
            kind=kind,
            first_errors=first_errors,
        )
    )


# -- cancel ------------------------------------------------------------------------------------------------------


@task(
    name="Cancel jobnode job", description="Cancels a remote batch job and waits for it to stop.", cache_policy=NO_CACHE
)
async def cancel_job(job_id: str, *, credentials: JobnodeCredentials | None = None, grace: float = 30.0) -> Job:
    """Cancel the job and wait up to `grace` seconds for it to stop; cancelling an ended job changes nothing.

    Example:
        ```python
        job = await cancel_job(job.id)
        ```
    """
    async with async_client(credentials) as client:
        return await jobs.cancel(client, job_id, grace=grace)


@task(
    name="Cancel jobnode job", description="Cancels a remote batch job and waits for it to stop.", cache_policy=NO_CACHE
)
def cancel_job_sync(job_id: str, *, credentials: JobnodeCredentials | None = None, grace: float = 30.0) -> Job:
    """The sync twin of `cancel_job`.

    Example:
        ```python
        job = cancel_job_sync(job.id)
        ```
    """
    return run_sync(cancel_job.fn(job_id, credentials=credentials, grace=grace))


# -- cleanup -----------------------------------------------------------------------------------------------------


@task(
    name="Clean up jobnode jobs",
    description="Deletes finished jobs and their outputs where the lineage rules allow, and says what it kept.",
    cache_policy=NO_CACHE,
)
async def cleanup_jobs(
    job_ids: Sequence[str] | None = None,
    *,
    credentials: JobnodeCredentials | None = None,
    delete_outputs: bool = True,
    protect: Sequence[str] = (),
    dry_run: bool = False,
) -> CleanupReport:
    """Delete the jobs (by default every job this flow run submitted) and their outputs, under the lineage rules:
    a job that has not ended, an output that a surviving job consumes, and anything in `protect` are kept.

    Args:
        job_ids: the jobs; by default those tagged with the current flow run.
        credentials: where the jobs run.
        delete_outputs: delete the jobs' output artifacts too (a job with outputs left is kept).
        protect: ids of jobs or artifacts never to delete.
        dry_run: return the plan without deleting anything.

    Example:
        ```python
        report = await cleanup_jobs(dry_run=True)
        print(report.plan.steps, report.kept)
        ```
    """
    async with async_client(credentials) as client:
        return await jobs.cleanup(client, job_ids, delete_outputs=delete_outputs, protect=protect, dry_run=dry_run)


@task(
    name="Clean up jobnode jobs",
    description="Deletes finished jobs and their outputs where the lineage rules allow, and says what it kept.",
    cache_policy=NO_CACHE,
)
def cleanup_jobs_sync(
    job_ids: Sequence[str] | None = None,
    *,
    credentials: JobnodeCredentials | None = None,
    delete_outputs: bool = True,
    protect: Sequence[str] = (),
    dry_run: bool = False,
) -> CleanupReport:
    """The sync twin of `cleanup_jobs`.

    Example:
        ```python
        report = cleanup_jobs_sync([job.id])
        ```
    """
    return run_sync(
        cleanup_jobs.fn(
            job_ids, credentials=credentials, delete_outputs=delete_outputs, protect=protect, dry_run=dry_run
        )
    )
