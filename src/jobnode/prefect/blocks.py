"""`JobnodeJob`, a Prefect `JobBlock` holding a job template, and `JobnodeJobRun`, the run that `trigger()` returns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any, Union

from prefect.blocks.abstract import JobBlock, JobRun
from pydantic import Field

from jobnode.core.models import DeletePlan, Job, JobResult, JobSpec, LogEntry
from jobnode.prefect import jobs
from jobnode.prefect.credentials import BLOCKS, JobnodeCredentials

if TYPE_CHECKING:
    AnyCredentials = JobnodeCredentials
else:
    AnyCredentials = Annotated[Union[tuple(BLOCKS.values())], Field(discriminator="platform")]  # noqa: UP007


class JobnodeJobRun(JobRun[JobResult]):
    """One run of a `JobnodeJob`: a remote job to wait for, read, cancel or delete.

    Example:
        ```python
        run = await JobnodeJob.load("nightly").trigger()
        await run.wait_for_completion()
        result = await run.fetch_result()
        ```
    """

    def __init__(self, block: JobnodeJob, job: Job) -> None:
        self.block = block
        self.job = job

    @property
    def job_id(self) -> str:
        return self.job.id

    async def wait_for_completion(self) -> Job:  # type: ignore[override]  # Prefect annotates this `-> Logger`
        """Wait for the job to end (see `wait_for_job`); raises `JobFailed` unless it succeeded and `WaitTimeout`
        (after cancelling it) when it outlives the block's `timeout`."""
        async with self.block.credentials.get_async_client() as client:
            self.job = await jobs.wait(
                client,
                self.job_id,
                timeout=self.block.timeout,
                poll_interval=self.block.poll_interval,
                log_every=self.block.log_every,
            )
        return self.job

    async def fetch_result(self) -> JobResult:
        """What the job produced: its final counts, output artifacts and a sample of the results."""
        async with self.block.credentials.get_async_client() as client:
            return await client.jobs.result(self.job_id)

    async def cancel(self) -> Job:
        """Cancel the job and wait for it to stop."""
        async with self.block.credentials.get_async_client() as client:
            self.job = await jobs.cancel(client, self.job_id)
        return self.job

    async def logs(self, **filters: Any) -> AsyncIterator[LogEntry]:
        """Each log entry of the job, streamed; the filters of `client.jobs.logs` (`min_level`, `after_time`, ...)."""
        async with self.block.credentials.get_async_client() as client:
            async for entry in client.jobs.iter_logs(self.job_id, **filters):
                yield entry

    async def delete(self, *, delete_outputs: bool = True, dry_run: bool = False) -> DeletePlan:
        """Delete the ended job (and its outputs) under the lineage rules; a refusal raises `jobnode.Conflict`
        naming each blocker."""
        async with self.block.credentials.get_async_client() as client:
            return await client.jobs.delete(self.job_id, delete_outputs=delete_outputs, dry_run=dry_run)


class JobnodeJob(JobBlock[JobResult]):
    """A remote batch job template: what to run, where, and how long to wait for it.

    `trigger()` starts a new run of the job each time it is called, as Prefect's other job blocks do, and returns
    a `JobnodeJobRun`. `trigger(key=...)` is idempotent within a flow run instead, as `submit_job` is: a retried
    task or a retry of the flow run after a crash gets the job that key started.

    Example:
        ```python
        from jobnode import JobSpec
        from jobnode.core.models import ItemsInput
        from jobnode.prefect import JobnodeCredentials, JobnodeJob

        JobnodeJob(
            credentials=JobnodeCredentials.load("local-service"),
            spec=JobSpec(name="nightly", step="sentiment", input=ItemsInput(items=["good", "bad"])),
            timeout=600,
        ).save("nightly")
        ```
    """

    _block_type_name = "Jobnode Job"
    _code_example = """
        from jobnode.prefect import JobnodeJob

        jobnode_job = JobnodeJob.load("BLOCK_NAME")
        run = await jobnode_job.trigger()
        await run.wait_for_completion()
        result = await run.fetch_result()
        """

    # any platform's block: a saved job block loads its credentials back as what they were (by their `platform`)
    credentials: AnyCredentials = Field(description="Where the job runs.")
    spec: JobSpec = Field(description="The job: its processing step, parameters, input, batching and tags.")
    timeout: float | None = Field(
        default=None, gt=0, description="Seconds to wait for the job before cancelling it; empty waits until it ends."
    )
    poll_interval: float = Field(
        default=2.0, gt=0, description="Seconds between status checks on platforms without a push channel."
    )
    log_every: float = Field(
        default=10.0, gt=0, description="Seconds between progress lines in the run log; state changes always show."
    )

    async def trigger(self, *, key: str | None = None) -> JobnodeJobRun:
        """Start a new run of the job and return it; with `key`, the run this flow run already started under that
        key, if any (see `submit_job`).

        Example:
            ```python
            nightly = await JobnodeJob.aload("nightly")
            run = await nightly.trigger()                      # a new job on every call
            run = await nightly.trigger(key="2026-01-31")      # one job per flow run and key, whatever the retries
            ```
        """
        async with self.credentials.get_async_client() as client:
            job = await jobs.submit(client, self.spec, key=key, idempotent=key is not None)
        return JobnodeJobRun(self, job)
