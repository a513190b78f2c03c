"""`run_batch_job`: one remote batch job as a Prefect flow (submit -> wait -> logs -> cleanup)."""

# No `from __future__ import annotations` here: Prefect builds a flow's parameter model from its annotations,
# and a deployment's flow run loads this file where string annotations cannot be resolved.

from prefect import flow

from jobnode.core.errors import JobnodeError
from jobnode.core.models import Job, JobSpec, LogLevel
from jobnode.prefect.credentials import JobnodeCredentials
from jobnode.prefect.hooks import cancel_remote_jobs
from jobnode.prefect.tasks import cleanup_jobs, fetch_job_logs, submit_job, wait_for_job


@flow(
    name="run-batch-job",
    description="Runs one remote batch job: submit, wait with progress, fetch its logs, clean up.",
    on_cancellation=[cancel_remote_jobs()],
)
async def run_batch_job(
    spec: JobSpec,
    credentials: JobnodeCredentials | None = None,
    timeout: float | None = None,
    min_log_level: LogLevel | None = None,
    cleanup: bool = True,
) -> Job:
    """Run one batch job to its end and return it.

    The job's log entries reach the flow run's log and its artifacts whether it succeeds or not. A job that failed
    fails the flow with the job's reason and is kept for inspection; a job that outlives `timeout`, or whose flow
    run is cancelled, is cancelled. After success, `cleanup` deletes the job and its outputs (keep them for later
    flows with `cleanup=False`; outputs that another job consumes are kept anyway).

    Args:
        spec: the job (a `jobnode.JobSpec`, or its fields as a dict in a deployment's parameters).
        credentials: where the job runs; by default `JOBNODE_URL` and `JOBNODE_TOKEN`.
        timeout: seconds to wait for the job before cancelling it.
        min_log_level: forward only log entries of this level and above.
        cleanup: delete the job and its outputs after it succeeded.

    Example:
        ```python
        from jobnode import JobSpec
        from jobnode.core.models import ItemsInput
        from jobnode.prefect import run_batch_job

        job = await run_batch_job(JobSpec(name="nightly", step="sentiment", input=ItemsInput(items=["good"])))
        ```
    """
    job = await submit_job(spec, credentials=credentials)
    try:
        job = await wait_for_job(job.id, credentials=credentials, timeout=timeout)
    except JobnodeError:
        await fetch_job_logs(job.id, credentials=credentials, min_level=min_log_level)
        raise
    await fetch_job_logs(job.id, credentials=credentials, min_level=min_log_level)
    if cleanup:
        await cleanup_jobs([job.id], credentials=credentials)
    return job
