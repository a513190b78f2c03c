"""Submit or reattach, against the real local service: a retry after a crash reattaches, a retry after a failure
starts a new job (or re-runs only the failed items), a changed request is a new job."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import jobnode
from jobnode.client import build_spec, request_digest
from jobnode.client._attach import MAX_GENERATIONS
from jobnode.core.backend import Capabilities
from jobnode.core.models import ItemsInput, Job, JobSpec, JobState
from jobnode.testing import InMemoryBackend


def sleeping(seconds: float = 60) -> JobSpec:
    return build_spec(name="attach", step="sleep", params={"seconds": seconds}, items=[1])


def failing() -> JobSpec:
    return build_spec(name="attach", step="fail", params={"fail_items": [2]}, items=[1, 2, 3])


@pytest.fixture
def key() -> str:
    return f"t-{uuid.uuid4().hex[:16]}"


def test_the_digest_is_the_request_whatever_the_order_of_its_parameters() -> None:
    a = JobSpec(step="s", params={"a": 1, "b": 2}, input=ItemsInput(items=[1]))
    b = JobSpec(step="s", params={"b": 2, "a": 1}, input=ItemsInput(items=[1]))
    assert request_digest(a) == request_digest(b)
    assert request_digest(a) != request_digest(a.model_copy(update={"params": {"a": 2, "b": 2}}))


async def test_a_running_job_is_reattached(aclient: jobnode.AsyncClient, key: str) -> None:
    first = await aclient.jobs.submit_or_reattach(sleeping(), key=key)
    again = await aclient.jobs.submit_or_reattach(sleeping(), key=key)
    assert (first.how, again.how) == ("created", "created")
    assert again.job.id == first.job.id
    assert again.generation == first.generation == 0
    await aclient.jobs.cancel(first.job.id)


async def test_a_job_that_succeeded_is_not_run_again(aclient: jobnode.AsyncClient, key: str) -> None:
    first = await aclient.jobs.submit_or_reattach(sleeping(0), key=key)
    await aclient.jobs.wait(first.job.id, timeout=30)
    again = await aclient.jobs.submit_or_reattach(sleeping(0), key=key)
    assert again.how == "succeeded"
    assert again.job.id == first.job.id


async def test_a_retry_after_a_failure_starts_a_new_job(aclient: jobnode.AsyncClient, key: str) -> None:
    first = await aclient.jobs.submit_or_reattach(failing(), key=key)
    assert (await aclient.jobs.wait(first.job.id, timeout=30)).state is JobState.FAILED
    second = await aclient.jobs.submit_or_reattach(failing(), key=key)
    assert second.job.id != first.job.id
    assert second.generation == 1
    assert second.jobs == (first.job.id, second.job.id)
    # once the new job exists, a third try finds it (it failed too: the walk moves on again, to a third job)
    assert (await aclient.jobs.wait(second.job.id, timeout=30)).state is JobState.FAILED
    third = await aclient.jobs.submit_or_reattach(failing(), key=key, generation=second.generation, after=second.job)
    assert third.generation == 2
    assert third.jobs == (second.job.id, third.job.id)


async def test_a_cancelled_job_is_replaced(aclient: jobnode.AsyncClient, key: str) -> None:
    first = await aclient.jobs.submit_or_reattach(sleeping(), key=key)
    await aclient.jobs.cancel(first.job.id)
    second = await aclient.jobs.submit_or_reattach(sleeping(0), key=key)
    assert second.job.id != first.job.id


async def test_a_changed_request_is_a_new_job_and_an_unchanged_one_is_not(
    aclient: jobnode.AsyncClient, key: str
) -> None:
    first = await aclient.jobs.submit_or_reattach(sleeping(0), key=key)
    await aclient.jobs.wait(first.job.id, timeout=30)
    changed = await aclient.jobs.submit_or_reattach(sleeping(0.1), key=key)
    assert changed.job.id != first.job.id
    assert (changed.how, changed.generation) == ("created", 0)
    assert changed.request != first.request
    unchanged = await aclient.jobs.submit_or_reattach(sleeping(0.1), key=key)
    assert unchanged.job.id == changed.job.id


async def test_the_key_of_a_deleted_job_moves_on_to_the_next_generation(aclient: jobnode.AsyncClient, key: str) -> None:
    first = await aclient.jobs.submit_or_reattach(sleeping(0), key=key)
    await aclient.jobs.wait(first.job.id, timeout=30)
    await aclient.jobs.delete(first.job.id, delete_outputs=True)
    again = await aclient.jobs.submit_or_reattach(sleeping(0), key=key)
    assert again.job.id != first.job.id
    assert again.generation == 1


async def test_retry_from_failure_runs_only_the_failed_items(
    aclient: jobnode.AsyncClient, key: str, tmp_path: Path
) -> None:
    spec = build_spec(
        name="flaky", step="flaky", params={"marker_dir": str(tmp_path), "fail_items": [2, 4]}, items=[1, 2, 3, 4]
    )
    first = await aclient.jobs.submit_or_reattach(spec, key=key, retry_from_failure=True)
    failed = await aclient.jobs.wait(first.job.id, timeout=30)
    assert failed.state is JobState.FAILED
    retry = await aclient.jobs.submit_or_reattach(spec, key=key, retry_from_failure=True)
    assert retry.how == "resubmitted"
    done = await aclient.jobs.wait(retry.job.id, timeout=30)
    assert done.state is JobState.SUCCEEDED
    assert done.progress.items_total == 2
    chain = await aclient.jobs.resubmission_chain(done)
    assert [j.id for j in chain] == [failed.id, done.id]
    results = [r for job in chain for output in job.outputs async for r in aclient.artifacts.read(output.id)]
    assert sorted(results) == [1, 2, 3, 4]
    # the retry's key finds the resubmission again, not a third job
    again = await aclient.jobs.submit_or_reattach(spec, key=key, retry_from_failure=True)
    assert (again.how, again.job.id) == ("succeeded", done.id)


async def test_without_retry_from_failure_the_whole_request_runs_again(
    aclient: jobnode.AsyncClient, key: str, tmp_path: Path
) -> None:
    spec = build_spec(
        name="flaky", step="flaky", params={"marker_dir": str(tmp_path), "fail_items": [2]}, items=[1, 2, 3]
    )
    first = await aclient.jobs.submit_or_reattach(spec, key=key)
    await aclient.jobs.wait(first.job.id, timeout=30)
    retry = await aclient.jobs.submit_or_reattach(spec, key=key)
    assert retry.how == "created"
    assert (await aclient.jobs.wait(retry.job.id, timeout=30)).progress.items_total == 3


async def test_without_a_key_each_call_is_a_new_job(aclient: jobnode.AsyncClient) -> None:
    first = await aclient.jobs.submit_or_reattach(sleeping(0), key=None)
    second = await aclient.jobs.submit_or_reattach(sleeping(0), key=None)
    assert first.job.id != second.job.id


class FailsAtOnce(InMemoryBackend):
    """A platform whose jobs fail as soon as they are created."""

    async def create_job(self, spec: JobSpec, *, idempotency_key: str | None = None) -> Job:
        job = await super().create_job(spec, idempotency_key=idempotency_key)
        self.set(job.id, JobState.FAILED)
        return self.jobs[job.id]


async def test_on_a_platform_without_idempotency_keys_one_call_is_one_job() -> None:
    # a key finds nothing there, so a job that has ended is this call's own, not an earlier try's
    backend = FailsAtOnce()
    backend.capabilities = Capabilities(cancel=True)
    async with jobnode.AsyncClient(backend=backend) as client:
        attached = await client.jobs.submit_or_reattach(sleeping(), key="k")
    assert backend.calls["create_job"] == 1
    assert attached.job.state is JobState.FAILED


async def test_the_generations_run_out() -> None:
    backend = FailsAtOnce()
    async with jobnode.AsyncClient(backend=backend) as client:
        with pytest.raises(jobnode.JobnodeError, match="submit under a new key"):
            await client.jobs.submit_or_reattach(sleeping(), key="k")
    assert backend.calls["create_job"] == MAX_GENERATIONS


def test_the_sync_client_has_it_too(client: jobnode.Client, key: str) -> None:
    first = client.jobs.submit_or_reattach(sleeping(), key=key)
    assert client.jobs.submit_or_reattach(sleeping(), key=key).job.id == first.job.id
    client.jobs.cancel(first.job.id)
