"""A job's whole life through the real service: each state, cancel, timeouts, the start/stop window."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

import jobnode
from jobnode import JobState


def test_succeeded_job_has_progress_events_and_results(client: jobnode.Client) -> None:
    job = client.jobs.create(
        name="life",
        step="identity",
        items=[{"id": f"i{n}", "n": n} for n in range(30)],
        batch_size=7,
        workers=3,
        tags=["lifecycle"],
    )
    assert job.state in (JobState.QUEUED, JobState.RUNNING)
    assert job.progress.items_total == 30 and job.progress.batches_total == 5
    done = client.jobs.wait(job.id, timeout=30)
    assert done.state is JobState.SUCCEEDED
    assert (done.progress.items_processed, done.progress.items_failed, done.progress.batches_succeeded) == (30, 0, 5)
    assert done.started_at and done.ended_at and done.started_at <= done.ended_at
    assert [e.type for e in client.jobs.events(job.id)] == ["created", "queued", "running", "succeeded"]
    result = client.jobs.result(job.id)
    assert result.outputs[0].records == 30
    assert [r["n"] for r in client.artifacts.read(result.outputs[0].id)] == list(range(30))
    logs = list(client.jobs.iter_logs(job.id))
    assert sorted(e.item for e in logs) == sorted(f"i{n}" for n in range(30))
    assert all(e.status == "Succeeded" and e.duration_ms is not None for e in logs)


def test_cpu_step_runs_in_worker_processes(client: jobnode.Client) -> None:
    texts = ["I love it, great", "awful and broken", "a blue box"] * 20
    job = client.jobs.create(name="cpu", step="sentiment", items=texts, batch_size=10, workers=2)
    done = client.jobs.wait(job.id, timeout=60)
    assert done.state is JobState.SUCCEEDED
    labels = [r["label"] for r in client.artifacts.read(done.outputs[0].id)]
    assert labels == ["positive", "negative", "neutral"] * 20


def test_failed_items_fail_the_job_with_counts_and_errors(client: jobnode.Client) -> None:
    job = client.jobs.create(
        name="fails", step="fail", params={"fail_items": [2, 5]}, items=list(range(8)), batch_size=3
    )
    done = client.jobs.wait(job.id, timeout=30)
    assert done.state is JobState.FAILED
    assert done.reason == "2 of 8 items failed"
    assert (done.progress.items_processed, done.progress.items_failed) == (6, 2)
    errors = client.jobs.errors(job.id)
    assert sorted(e.item for e in errors) == ["2", "5"]
    assert all(e.message == "failed on purpose" for e in errors)
    failed_logs = list(client.jobs.iter_logs(job.id, min_level="error"))
    assert sorted(e.item for e in failed_logs) == ["2", "5"]


def test_tolerated_item_failures_still_succeed(client: jobnode.Client) -> None:
    job = client.jobs.create(step="fail", params={"fail_items": [1]}, items=[0, 1, 2], max_item_failures=1)
    assert client.jobs.wait(job.id, timeout=30).state is JobState.SUCCEEDED


def test_batch_exceptions_are_retried_then_succeed(client: jobnode.Client) -> None:
    job = client.jobs.create(
        step="fail", params={"raise_on": [4], "raise_attempts": 2}, items=list(range(6)), batch_size=2, max_attempts=3
    )
    done = client.jobs.wait(job.id, timeout=30)
    assert done.state is JobState.SUCCEEDED
    attempts = sorted(e.attempt for e in client.jobs.errors(job.id))
    assert attempts == [1, 2]


def test_cancel_while_running_is_prompt_and_idempotent(client: jobnode.Client) -> None:
    job = client.jobs.create(step="sleep", params={"seconds": 30}, items=list(range(4)), batch_size=1, workers=2)
    _wait_for_state(client, job.id, JobState.RUNNING)
    cancelled = client.jobs.cancel(job.id)
    assert cancelled.state is JobState.CANCELLED
    assert cancelled.reason == "cancelled by request"
    again = client.jobs.cancel(job.id)
    assert again.state is JobState.CANCELLED and again.ended_at == cancelled.ended_at
    time.sleep(0.5)
    final = client.jobs.get(job.id)
    assert final.state is JobState.CANCELLED and final.progress.items_processed == 0


def test_timeout_stops_a_running_job(client: jobnode.Client) -> None:
    job = client.jobs.create(step="sleep", params={"seconds": 30}, items=[1], timeout=0.5)
    done = client.jobs.wait(job.id, timeout=30)
    assert done.state is JobState.TIMED_OUT
    assert done.reason is not None and "timeout of 0.5s" in done.reason


def test_job_waits_for_its_start_time(client: jobnode.Client) -> None:
    start = datetime.now(UTC) + timedelta(seconds=1.5)
    job = client.jobs.create(step="identity", items=[1, 2], start_at=start)
    assert job.state is JobState.SCHEDULED
    done = client.jobs.wait(job.id, timeout=30)
    assert done.state is JobState.SUCCEEDED
    assert done.started_at is not None and done.started_at >= start
    assert [e.type for e in client.jobs.events(job.id)][:3] == ["created", "scheduled", "queued"]


def test_job_still_running_at_its_stop_time_is_stopped(client: jobnode.Client) -> None:
    stop = datetime.now(UTC) + timedelta(seconds=1)
    job = client.jobs.create(step="sleep", params={"seconds": 30}, items=[1], stop_at=stop)
    done = client.jobs.wait(job.id, timeout=30)
    assert done.state is JobState.TIMED_OUT
    assert done.reason == "stop time reached before the job finished"


def test_idempotency_key_returns_the_same_job(client: jobnode.Client) -> None:
    first = client.jobs.create(step="identity", items=[1], idempotency_key="same-key-1")
    second = client.jobs.create(step="identity", items=[1], idempotency_key="same-key-1")
    assert first.id == second.id
    with pytest.raises(jobnode.Conflict, match="different request"):
        client.jobs.create(step="identity", items=[2], idempotency_key="same-key-1")


def test_bulk_status_and_filters(client: jobnode.Client) -> None:
    ids = [client.jobs.create(step="identity", items=[n], tags=["bulk-tag"], name="bulk").id for n in range(12)]
    jobs = client.jobs.bulk_status(ids)
    assert sorted(j.id for j in jobs) == sorted(ids)
    tagged = client.jobs.list(tag="bulk-tag", limit=1000).data
    assert {j.id for j in tagged} == set(ids)
    first = client.jobs.list(tag="bulk-tag", limit=5)
    second = client.jobs.list(tag="bulk-tag", limit=5, cursor=first.next_cursor)
    assert not {j.id for j in first.data} & {j.id for j in second.data}
    back = client.jobs.list(tag="bulk-tag", limit=5, cursor=second.prev_cursor)
    assert [j.id for j in back.data] == [j.id for j in first.data]


def test_latest_step_version_when_omitted(client: jobnode.Client) -> None:
    job = client.jobs.create(step="upper", items=["a"])
    assert job.step_version == "2"
    pinned = client.jobs.create(step="upper", step_version="1", items=["a"])
    client.jobs.wait(pinned.id, timeout=30)
    assert list(client.artifacts.read(client.jobs.get(pinned.id).outputs[0].id)) == ["A"]


def test_delete_refuses_running_jobs_and_leaves_a_tombstone(client: jobnode.Client) -> None:
    job = client.jobs.create(step="sleep", params={"seconds": 30}, items=[1])
    with pytest.raises(jobnode.Conflict) as info:
        client.jobs.delete(job.id)
    assert "cancel it" in str(info.value)
    client.jobs.cancel(job.id)
    plan = client.jobs.delete(job.id)
    assert plan.allowed and not plan.dry_run
    with pytest.raises(jobnode.NotFound) as gone:
        client.jobs.get(job.id)
    assert gone.value.code == "deleted"
    assert [e.type for e in client.jobs.events(job.id)][-1] == "deleted"


def _wait_for_state(client: jobnode.Client, job_id: str, state: JobState) -> None:
    for job in client.jobs.watch([job_id]):
        if job.state is state or job.is_terminal:
            break
    assert client.jobs.get(job_id).state is state
