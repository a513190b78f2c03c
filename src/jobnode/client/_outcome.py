"""How waiting for a job ends: it succeeded; it failed, and here are its last errors; or the wait ran out of time (or
was itself cancelled) and the job was cancelled, so that nothing runs on that nobody waits for.

Airflow's worker and triggerer, Prefect's tasks and blocks all end a wait through these, so a timed-out wait
cancels its job, and a failed job is reported with its last errors, on every platform that keeps errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from jobnode.core.errors import JobFailed, JobnodeError, UnsupportedOperation, WaitTimeout
from jobnode.core.models import Job, JobError

if TYPE_CHECKING:
    from jobnode.client._async import AsyncJobs, ProgressCallback

#: seconds a cancel may take when the wait itself was cancelled (a Prefect timeout, a killed task)
CANCEL_GRACE = 30.0
#: errors a failure report shows
LAST_ERRORS = 5


def error_lines(errors: Iterable[JobError]) -> list[str]:
    """A job's errors as lines: `item: message` (or the message alone for a batch error)."""
    return [f"{e.item}: {e.message}" if e.item else e.message for e in errors]


def failure_report(failure: JobFailed) -> str:
    """A failed job as a person reads it: why it ended, then its last errors, one per line.

    Example:
        ```python
        except JobFailed as exc:
            log.error("%s", failure_report(exc))
        # job job_0123 ended failed: 1 of 3 items failed
        # last errors:
        #   - 1: failed on purpose
        ```
    """
    lines = error_lines(failure.errors)
    if not lines:
        return str(failure)
    return f"{failure}\nlast errors:\n" + "\n".join(f"  - {line}" for line in lines)


@dataclass(frozen=True)
class CancelOutcome:
    """What cancelling a job nobody will wait for any more did.

    Attributes:
        job: the job as the cancel left it (None when the cancel did not happen).
        cancelled: whether the platform took the cancel.
        message: what happened, to append to the timeout's message (`it was cancelled`,
            `it was not cancelled and goes on: ...`, `cancelling it failed (...): cancel it by hand`).
    """

    job: Job | None
    cancelled: bool
    message: str


class CancelledOnTimeout(WaitTimeout):
    """Waiting for a job took longer than the timeout, so jobnode cancelled the job (`outcome` says whether the
    platform took the cancel)."""

    def __init__(self, job_id: str, timeout: float, outcome: CancelOutcome, last: Job | None = None) -> None:
        super().__init__(job_id, timeout, outcome.job or last)
        self.outcome = outcome
        self.args = (f"job {job_id} was not finished after {timeout:g}s; {outcome.message}",)


async def cancel_overdue(jobs: AsyncJobs, job_id: str) -> CancelOutcome:
    """Cancel a job whose wait ran out of time; never raises for a platform that cannot cancel or refuses.

    Example:
        ```python
        outcome = await cancel_overdue(client.jobs, job.id)
        log.warning("job %s did not end in time; %s", job.id, outcome.message)
        ```
    """
    try:
        job = await jobs.cancel(job_id)
    except UnsupportedOperation as exc:
        return CancelOutcome(None, False, f"it was not cancelled and goes on: {exc}")
    except JobnodeError as exc:
        return CancelOutcome(None, False, f"cancelling it failed ({exc}): cancel it by hand")
    return CancelOutcome(job, True, f"it was cancelled (it is {job.state.value})")


async def wait_or_cancel(
    jobs: AsyncJobs,
    job_id: str,
    *,
    timeout: float | None,
    poll_interval: float,
    on_progress: ProgressCallback | None,
    raise_on_failure: bool,
) -> Job:
    """`jobs.wait`, cancelling the job when the wait times out or is cancelled (see `AsyncJobs.wait_or_cancel`)."""
    try:
        return await jobs.wait(
            job_id,
            timeout=timeout,
            poll_interval=poll_interval,
            on_progress=on_progress,
            raise_on_failure=raise_on_failure,
        )
    except WaitTimeout as exc:
        raise CancelledOnTimeout(job_id, exc.timeout, await cancel_overdue(jobs, job_id), exc.last) from None
    except asyncio.CancelledError:
        # the caller gave up (a Prefect timeout, a killed task): the job must not run on unwatched. Prefect cancels
        # through anyio scopes, which would cancel this clean-up too unless it is shielded.
        with anyio.CancelScope(shield=True), anyio.move_on_after(CANCEL_GRACE):
            await cancel_overdue(jobs, job_id)
        raise
