"""Dead letters, the errors list and resubmitting a job's failures, through the real service."""

from __future__ import annotations

import pytest

import jobnode
from jobnode import JobState


def _failing_job(client: jobnode.Client) -> jobnode.Job:
    """Batches [0,1] [2,3] [4,5] [6,7]: batch 1 always raises (dead-lettered), item 5 fails alone."""
    job = client.jobs.create(
        name="partly-bad",
        step="fail",
        params={"raise_on": [2], "fail_items": [5]},
        items=list(range(8)),
        batch_size=2,
        max_attempts=2,
        tags=["dead-letter-test"],
    )
    return client.jobs.wait(job.id, timeout=60)


def test_a_batch_that_fails_every_attempt_is_dead_lettered_with_its_items(client: jobnode.Client) -> None:
    done = _failing_job(client)
    assert done.state is JobState.FAILED
    assert (done.progress.items_processed, done.progress.items_failed, done.progress.batches_failed) == (5, 3, 1)
    [dead] = client.jobs.dead_letters(done.id)
    assert (dead.batch, dead.attempts, dead.items) == (1, 2, [2, 3])
    assert "failed on purpose (batch 1, attempt 2)" in dead.error

    errors = client.jobs.errors(done.id)  # the most recent first
    batch_errors = [(e.batch, e.attempt) for e in errors if e.item is None]
    assert batch_errors == [(1, 2), (1, 1)]
    assert [(e.item, e.message) for e in errors if e.item] == [("5", "failed on purpose")]
    assert len(client.jobs.errors(done.id, limit=1)) == 1


def test_resubmit_failed_runs_the_dead_lettered_and_failed_items_again(client: jobnode.Client) -> None:
    done = _failing_job(client)
    retry = client.jobs.resubmit_failed(done.id, params={}, idempotency_key=f"retry-{done.id}")
    assert retry.id != done.id and f"resubmit-of:{done.id}" in retry.tags and "dead-letter-test" in retry.tags
    assert retry.name == "partly-bad" and retry.step == "fail"
    assert retry.progress.items_total == 3
    again = client.jobs.resubmit_failed(done.id, params={}, idempotency_key=f"retry-{done.id}")
    assert again.id == retry.id  # a retried call does not start a second job
    finished = client.jobs.wait(retry.id, timeout=60)
    assert finished.state is JobState.SUCCEEDED
    assert list(client.artifacts.read(finished.outputs[0].id)) == [2, 3, 5]


def test_resubmit_keeps_the_original_settings_unless_overridden(client: jobnode.Client) -> None:
    done = _failing_job(client)
    same = client.jobs.wait(client.jobs.resubmit_failed(done.id).id, timeout=60)  # same params: same failures
    assert same.state is JobState.FAILED and same.progress.items_failed == 3
    assert client.jobs.dead_letters(same.id)[0].items == [2, 3]
    renamed = client.jobs.resubmit_failed(done.id, name="second-try", batch_size=10, params={"fail_items": [3]})
    finished = client.jobs.wait(renamed.id, timeout=60)
    assert finished.name == "second-try" and finished.progress.batches_total == 1
    assert finished.progress.items_failed == 1 and list(client.artifacts.read(finished.outputs[0].id)) == [2, 5]


def test_resubmit_refuses_what_it_cannot_do(client: jobnode.Client) -> None:
    ok = client.jobs.wait(client.jobs.create(step="identity", items=[1]).id, timeout=60)
    with pytest.raises(jobnode.Conflict, match="no failed items"):
        client.jobs.resubmit_failed(ok.id)
    running = client.jobs.create(step="sleep", params={"seconds": 30}, items=[1])
    with pytest.raises(jobnode.Conflict, match="once it has ended"):
        client.jobs.resubmit_failed(running.id)
    client.jobs.cancel(running.id)
    done = _failing_job(client)
    with pytest.raises(jobnode.ValidationFailed, match="batch_size"):
        client.jobs.resubmit_failed(done.id, batch_size=0)
    with pytest.raises(jobnode.ValidationFailed, match="input"):
        client.jobs.resubmit_failed(done.id, input={"kind": "items", "items": [1]})
    with pytest.raises(jobnode.NotFound):
        client.jobs.resubmit_failed("job_missing")


def test_only_what_failed_runs_again(client: jobnode.Client) -> None:
    """The batch that succeeded is not run again; the dead-lettered one is."""
    job = client.jobs.create(step="fail", params={"raise_on": [0]}, items=[0, 1], batch_size=1, max_attempts=1)
    done = client.jobs.wait(job.id, timeout=60)
    assert done.state is JobState.FAILED
    retry = client.jobs.resubmit_failed(done.id, params={})
    assert client.jobs.wait(retry.id, timeout=60).progress.items_total == 1
