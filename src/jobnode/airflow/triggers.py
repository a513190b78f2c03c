"""`JobnodeJobTrigger`: waits in the triggerer for a job to end, through the connection's shared client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any, Literal, TypedDict

from airflow.triggers.base import BaseTrigger, TriggerEvent

from jobnode.airflow._results import ProgressLog
from jobnode.airflow.hooks import JobnodeHook
from jobnode.client import AsyncClient, error_lines, failure_report, shared_client
from jobnode.core.errors import JobnodeError, UnsupportedOperation
from jobnode.core.models import Job, JobState
from jobnode.progress import describe

Status = Literal["success", "failed", "timeout", "error"]


class JobEventPayload(TypedDict):
    """What the trigger sends back to the task: `status` is `success` (the job succeeded), `failed` (it ended in
    another state; `message` is its failure report, `errors` its last errors), `timeout` (the wait timed out; the
    job was cancelled when the trigger was asked to) or `error` (the platform would not say: the job was deleted,
    the token is wrong, ...)."""

    status: Status
    job_id: str
    message: str
    job: dict[str, Any] | None
    errors: list[str]


def event_payload(
    status: Status, job_id: str, message: str, job: Job | None = None, errors: list[str] | None = None
) -> JobEventPayload:
    return {
        "status": status,
        "job_id": job_id,
        "message": message,
        "job": job.model_dump(mode="json", exclude={"raw"}) if job is not None else None,
        "errors": errors or [],
    }


class JobnodeJobTrigger(BaseTrigger):
    """Fires once the job has ended, or once `timeout_at` has passed.

    All triggers of one connection in one triggerer process share one client, and with it one watcher (the
    platform's watch stream, or one bulk status request per interval). Transient errors are waited out; they never
    end the wait. The timeout is enforced here, because Airflow does not call `on_kill` when a trigger times out:
    when it passes, the remote job is cancelled (with `cancel_on_timeout`). `on_kill` (the user marked the deferred task
    failed or cleared it) cancels the remote job too (with `cancel_on_kill`).

    Example:
        ```python
        self.defer(
            trigger=JobnodeJobTrigger(job_id=job.id, jobnode_conn_id="jobnode_default", timeout_at=time.time() + 3600),
            method_name="execute_complete",
        )
        ```

    Args:
        job_id: the job to wait for.
        jobnode_conn_id: the jobnode connection.
        timeout_at: when to give up, in seconds since the epoch; None waits as long as the job runs.
        cancel_on_timeout: cancel the remote job when the wait times out.
        cancel_on_kill: cancel the remote job when the task is killed while deferred.
        progress_every: seconds between two progress lines in the task log (state changes are always logged).
    """

    def __init__(
        self,
        job_id: str,
        jobnode_conn_id: str = JobnodeHook.default_conn_name,
        *,
        timeout_at: float | None = None,
        cancel_on_timeout: bool = True,
        cancel_on_kill: bool = True,
        progress_every: float = 60.0,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.job_id = job_id
        self.jobnode_conn_id = jobnode_conn_id
        self.timeout_at = timeout_at
        self.cancel_on_timeout = cancel_on_timeout
        self.cancel_on_kill = cancel_on_kill
        self.progress_every = progress_every

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "jobnode_conn_id": self.jobnode_conn_id,
                "timeout_at": self.timeout_at,
                "cancel_on_timeout": self.cancel_on_timeout,
                "cancel_on_kill": self.cancel_on_kill,
                "progress_every": self.progress_every,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # the shared client is released before yielding: nothing is held while the triggerer handles the event
        payload = await self._wait()
        yield TriggerEvent(payload)  # type: ignore[no-untyped-call]

    async def on_kill(self) -> None:
        """Cancel the remote job: the user marked the deferred task failed, or cleared it."""
        if not self.cancel_on_kill:
            return
        async with self._client() as client:
            try:
                job = await client.jobs.cancel(self.job_id)
            except UnsupportedOperation as exc:
                self.log.warning("job %s was not cancelled and goes on: %s", self.job_id, exc)
                return
        self.log.info("cancelled job %s (it is %s)", self.job_id, job.state.value)

    def _client(self) -> Any:
        return shared_client(self.jobnode_conn_id, JobnodeHook(self.jobnode_conn_id).aget_client)

    async def _wait(self) -> JobEventPayload:
        try:
            async with self._client() as client:
                return await self._follow(client)
        except JobnodeError as exc:
            return event_payload("error", self.job_id, f"cannot wait for job {self.job_id}: {exc}")

    async def _follow(self, client: AsyncClient) -> JobEventPayload:
        progress = ProgressLog(self.log, self.progress_every)
        last: Job | None = None
        deadline = None
        if self.timeout_at is not None:
            deadline = asyncio.get_running_loop().time() + (self.timeout_at - time.time())
        try:
            async with asyncio.timeout_at(deadline):
                async for job in client.jobs.watch([self.job_id]):
                    last = job
                    progress(job)
        except TimeoutError:
            return await self._timed_out(client, last)
        assert last is not None
        if last.state is JobState.SUCCEEDED:
            return event_payload("success", last.id, describe(last), last)
        failure = await client.jobs.failure_of(last)
        return event_payload("failed", last.id, failure_report(failure), last, error_lines(failure.errors))

    async def _timed_out(self, client: AsyncClient, last: Job | None) -> JobEventPayload:
        message = f"job {self.job_id} did not end before the timeout"
        if last is not None:
            message += f" (it was {describe(last)})"
        if self.cancel_on_timeout:
            outcome = await client.jobs.cancel_overdue(self.job_id)
            message += f"; {outcome.message}"
            last = outcome.job or last
        self.log.warning("%s", message)
        return event_payload("timeout", self.job_id, message, last)
