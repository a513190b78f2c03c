"""`JobnodeJobTrigger`: JSON-only serialization, its events, transient errors, the timeout and on_kill."""

from __future__ import annotations

import asyncio
import importlib
import json
import time

import pytest

from jobnode.airflow.triggers import JobnodeJobTrigger
from jobnode.core.errors import RateLimited, ServerError, TransportError
from jobnode.core.models import JobError, JobState
from tests.airflow.fakes import FakeBackend, eventually


async def _event(trigger: JobnodeJobTrigger) -> dict:  # type: ignore[type-arg]
    events = [event async for event in trigger.run()]
    assert len(events) == 1
    payload = events[0].payload
    json.dumps(payload)  # it travels through the metadata database
    return payload  # type: ignore[no-any-return]


def test_serialize_round_trip_is_json() -> None:
    trigger = JobnodeJobTrigger(
        "job_0001",
        "my_conn",
        timeout_at=1_800_000_000.5,
        cancel_on_timeout=False,
        cancel_on_kill=False,
        progress_every=5.0,
    )
    classpath, kwargs = trigger.serialize()
    assert json.loads(json.dumps(kwargs)) == kwargs
    module, _, name = classpath.rpartition(".")
    again = getattr(importlib.import_module(module), name)(**kwargs)
    assert again.serialize() == (classpath, kwargs)


async def test_success_carries_the_job(fake: FakeBackend, fake_conn: str) -> None:
    job = fake.add()
    task = asyncio.create_task(_event(JobnodeJobTrigger(job.id, fake_conn)))
    await asyncio.sleep(0.2)
    fake.set(job.id, JobState.SUCCEEDED)
    event = await task
    assert event["status"] == "success"
    assert event["job_id"] == job.id
    assert event["job"]["outputs"][0]["id"] == f"art_{job.id}"
    assert fake.closed  # the last trigger of the connection closed the shared client


async def test_failure_carries_the_reason_and_last_errors(fake: FakeBackend, fake_conn: str) -> None:
    job = fake.add()
    fake.errors[job.id] = [JobError(time="2026-01-01T00:00:00Z", item="item-7", message="bad input")]
    fake.set(job.id, JobState.FAILED, reason="1 of 10 items failed")
    event = await _event(JobnodeJobTrigger(job.id, fake_conn))
    assert event["status"] == "failed"
    assert "1 of 10 items failed" in event["message"]
    assert event["errors"] == ["item-7: bad input"]


@pytest.mark.parametrize(
    "error", [TransportError("connection refused"), ServerError("oops", status_code=502), RateLimited("slow down")]
)
async def test_transient_errors_never_end_the_wait(fake: FakeBackend, fake_conn: str, error: Exception) -> None:
    job = fake.add()
    fake.fail_next("list_jobs", error, error)
    task = asyncio.create_task(_event(JobnodeJobTrigger(job.id, fake_conn)))
    await eventually(lambda: fake.calls["list_jobs"] >= 3)
    assert not task.done()
    fake.set(job.id, JobState.SUCCEEDED)
    assert (await task)["status"] == "success"


async def test_timeout_cancels_the_remote_job(fake: FakeBackend, fake_conn: str) -> None:
    job = fake.add()
    event = await _event(JobnodeJobTrigger(job.id, fake_conn, timeout_at=time.time() + 0.3))
    assert event["status"] == "timeout"
    assert "was cancelled" in event["message"]
    assert fake.jobs[job.id].state is JobState.CANCELLED


async def test_timeout_can_leave_the_job_running(fake: FakeBackend, fake_conn: str) -> None:
    job = fake.add()
    event = await _event(JobnodeJobTrigger(job.id, fake_conn, timeout_at=time.time() + 0.2, cancel_on_timeout=False))
    assert event["status"] == "timeout"
    assert fake.jobs[job.id].state is JobState.RUNNING
    assert fake.calls["cancel_job"] == 0


async def test_a_deadline_already_past_still_cancels(fake: FakeBackend, fake_conn: str) -> None:
    job = fake.add()
    event = await _event(JobnodeJobTrigger(job.id, fake_conn, timeout_at=time.time() - 60))
    assert event["status"] == "timeout"
    assert fake.jobs[job.id].state is JobState.CANCELLED


async def test_a_deleted_job_is_an_error_event(fake: FakeBackend, fake_conn: str) -> None:
    event = await _event(JobnodeJobTrigger("job_gone", fake_conn))
    assert event["status"] == "error"
    assert "job_gone" in event["message"]


async def test_a_connection_that_is_not_jobnode_is_an_error_event(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_NOT_JOBNODE", json.dumps({"conn_type": "http", "host": "example.com"}))
    event = await _event(JobnodeJobTrigger("job_0001", "not_jobnode"))
    assert event["status"] == "error"
    assert "not a jobnode connection type" in event["message"]


async def test_on_kill_cancels_the_remote_job(fake: FakeBackend, fake_conn: str) -> None:
    job = fake.add()
    trigger = JobnodeJobTrigger(job.id, fake_conn)
    task = asyncio.create_task(_event(trigger))
    await asyncio.sleep(0.2)
    task.cancel()  # what the triggerer does when a user marks the task failed, before calling on_kill
    with pytest.raises(asyncio.CancelledError):
        await task
    await trigger.on_kill()
    assert fake.jobs[job.id].state is JobState.CANCELLED


async def test_on_kill_leaves_the_job_when_told_to(fake: FakeBackend, fake_conn: str) -> None:
    job = fake.add()
    await JobnodeJobTrigger(job.id, fake_conn, cancel_on_kill=False).on_kill()
    assert fake.jobs[job.id].state is JobState.RUNNING


async def test_triggers_of_one_connection_share_one_client(fake: FakeBackend, fake_conn: str) -> None:
    jobs = [fake.add() for _ in range(50)]
    tasks = [asyncio.create_task(_event(JobnodeJobTrigger(j.id, fake_conn))) for j in jobs]
    await eventually(lambda: fake.calls["list_jobs"] >= 2)
    for job in jobs:
        fake.set(job.id, JobState.SUCCEEDED)
    events = await asyncio.gather(*tasks)
    assert {e["status"] for e in events} == {"success"}
    assert fake.calls["get_job"] == 0
    assert fake.calls["list_jobs"] < len(jobs)
