"""jobnode for Prefect 3: credentials and job blocks, tasks (async, with sync twins) and a flow for remote batch jobs.

Register the blocks with `prefect block register -m jobnode.prefect` (Prefect also finds them through the
`prefect.collections` entry point).

Example:
    ```python
    from prefect import flow
    from jobnode.prefect import cancel_remote_jobs, cleanup_jobs, fetch_job_logs, submit_job, wait_for_job

    @flow(on_cancellation=[cancel_remote_jobs()])
    async def nightly(reviews: list[str]):
        job = await submit_job(name="nightly", step="sentiment", items=reviews, batch_size=100)
        job = await wait_for_job(job.id, timeout=600)
        await fetch_job_logs(job.id)
        await cleanup_jobs([job.id])
    ```
"""

from jobnode.client import LogSummary
from jobnode.prefect.blocks import JobnodeJob, JobnodeJobRun
from jobnode.prefect.context import flow_run_tag
from jobnode.prefect.credentials import BLOCKS, JobnodeCredentials
from jobnode.prefect.flows import run_batch_job
from jobnode.prefect.hooks import cancel_remote_jobs, undo_submitted_job
from jobnode.prefect.tasks import (
    cancel_job,
    cancel_job_sync,
    cleanup_jobs,
    cleanup_jobs_sync,
    fetch_job_logs,
    fetch_job_logs_sync,
    submit_job,
    submit_job_sync,
    wait_for_job,
    wait_for_job_sync,
)

# every platform's credentials block (`NexusCredentials`, ...), derived from the platforms' descriptors
globals().update({block.__name__: block for block in BLOCKS.values()})

__all__ = [
    *(block.__name__ for block in BLOCKS.values() if block is not JobnodeCredentials),
    "JobnodeCredentials",
    "JobnodeJob",
    "JobnodeJobRun",
    "LogSummary",
    "cancel_job",
    "cancel_job_sync",
    "cancel_remote_jobs",
    "cleanup_jobs",
    "cleanup_jobs_sync",
    "fetch_job_logs",
    "fetch_job_logs_sync",
    "flow_run_tag",
    "run_batch_job",
    "submit_job",
    "submit_job_sync",
    "undo_submitted_job",
    "wait_for_job",
    "wait_for_job_sync",
]
