"""How a wait ends, against the real local service: a timeout cancels the job, so does a cancelled wait; a failed job
comes with its last errors; a platform that cannot cancel says so."""

from __future__ import annotations

import asyncio

import pytest

import jobnode
from jobnode.client import CancelledOnTimeout, build_spec, failure_report
from jobnode.core.backend import Capabilities
from jobnode.core.models import Job, JobState
from jobnode.testing import InMemoryBackend

SLEEPING = build_spec(name="outcome", step="sleep", params={"seconds": 60}, items=[1])


async def test_a_timed_out_wait_cancels_the_job(aclient: jobnode.AsyncClient) -> None:
    job = await aclient.jobs.create(SLEEPING)
    with pytest.raises(CancelledOnTimeout, match=r"not finished after 0.3s; it was cancelled") as caught:
        await aclient.jobs.wait_or_cancel(job.id, timeout=0.3)
    assert caught.value.outcome.cancelled
    assert isinstance(caught.value, jobnode.WaitTimeout)
    assert (await aclient.jobs.wait(job.id, timeout=30)).state is JobState.CANCELLED


async def test_a_cancelled_wait_cancels_the_job(aclient: jobnode.AsyncClient) -> None:
    job = await aclient.jobs.create(SLEEPING)
    running = asyncio.Event()

    def progress(job: Job) -> None:
        if job.state is JobState.RUNNING:
            running.set()

    waiting = asyncio.ensure_future(aclient.jobs.wait_or_cancel(job.id, on_progress=progress))
    await asyncio.wait_for(running.wait(), 30)  # the wait is under way, and the job runs
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert (await aclient.jobs.get(job.id)).state is JobState.CANCELLED


async def test_a_failed_job_comes_with_its_last_errors(aclient: jobnode.AsyncClient) -> None:
    job = await aclient.jobs.create(name="outcome", step="fail", params={"fail_items": [2]}, items=[1, 2, 3])
    with pytest.raises(jobnode.JobFailed) as caught:
        await aclient.jobs.wait_or_cancel(job.id, timeout=30)
    report = failure_report(caught.value)
    assert report.splitlines() == [
        f"job {job.id} ended failed: 1 of 3 items failed",
        "last errors:",
        "  - 1: failed on purpose",
    ]


async def test_a_platform_that_cannot_cancel_leaves_the_job_and_says_so() -> None:
    backend = InMemoryBackend(watch=False)
    backend.capabilities = Capabilities(bulk_status=True)
    async with jobnode.AsyncClient(backend=backend) as client:
        job = await client.jobs.create(SLEEPING)
        not_cancelled = "it was not cancelled and goes on: the memory platform does not support 'cancel'"
        with pytest.raises(CancelledOnTimeout, match=not_cancelled):
            await client.jobs.wait_or_cancel(job.id, timeout=0.1, poll_interval=0.02)
    assert backend.jobs[job.id].state is JobState.QUEUED


async def test_a_refused_cancel_is_reported_not_raised() -> None:
    backend = InMemoryBackend(watch=False)
    backend.fail_next("cancel_job", jobnode.ServerError("down", status_code=503))
    async with jobnode.AsyncClient(backend=backend) as client:
        job = await client.jobs.create(SLEEPING)
        outcome = await client.jobs.cancel_overdue(job.id)
    assert not outcome.cancelled
    assert outcome.message.startswith("cancelling it failed (HTTP 503: down): cancel it by hand")


def test_the_sync_client_cancels_on_timeout_too(client: jobnode.Client) -> None:
    job = client.jobs.create(SLEEPING)
    with pytest.raises(CancelledOnTimeout):
        client.jobs.wait_or_cancel(job.id, timeout=0.3)
    assert client.jobs.wait(job.id, timeout=30).state is JobState.CANCELLED
