"""The emulator's status answers as pure functions (states a real job passes through too quickly to catch over
HTTP, such as enqueuing), and a job that was enqueuing when the service stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobnode.platforms.cortex.emulator.context import KIND, Cortex
from jobnode.platforms.cortex.emulator.status import (
    CortexJob,
    Metrics,
    code,
    go_time,
    job_status_json,
    submitted_json,
)
from jobnode.service.engine import Engine
from jobnode.service.jobs import JobService

#: the fields the seed shows in a submission's answer and in `job_status`
SEED_SUBMITTED = {
    "job_id",
    "api_name",
    "kind",
    "workers",
    "config",
    "api_id",
    "sqs_url",
    "timeout",
    "sqs_dead_letter_queue",
    "created_time",
}
SEED_JOB_STATUS = {
    "job_id",
    "api_name",
    "kind",
    "workers",
    "config",
    "api_id",
    "sqs_url",
    "status",
    "batches_in_queue",
    "batch_metrics",
    "worker_counts",
    "created_time",
    "start_time",
    "end_time",
}
NS = 1_646_129_472_123_456_789


def _job(**fields: object) -> CortexJob:
    base: dict[str, object] = {
        "id": "69b183ed6bdf3e9b",
        "api": "image-classifier",
        "api_id": "a1",
        "workers": 2,
        "timeout": None,
        "dead_letter_queue": None,
        "config": None,
        "created": NS,
    }
    return CortexJob(**{**base, **fields})  # type: ignore[arg-type]


def test_go_times() -> None:
    assert go_time(NS) == "2022-03-01T10:11:12.123456789Z"
    assert go_time(1_646_129_472_500_000_000) == "2022-03-01T10:11:12.5Z"
    assert go_time(1_646_129_472_000_000_000) == "2022-03-01T10:11:12Z"


def test_an_enqueuing_job() -> None:
    job = _job(status="enqueuing")
    assert code(job, None) == "enqueuing"
    body = job_status_json(job, None, Metrics())
    assert set(body) >= SEED_JOB_STATUS
    assert set(body) - SEED_JOB_STATUS == {"timeout", "sqs_dead_letter_queue", "total_batch_count"}
    assert body["status"] == "status_enqueuing"
    assert (body["batches_in_queue"], body["worker_counts"], body["end_time"]) == (0, None, None)
    assert body["batch_metrics"] == {"succeeded": 0, "failed": 0}
    assert body["created_time"] == body["start_time"] == "2022-03-01T10:11:12.123456789Z"


def test_an_ended_job_without_a_local_job() -> None:
    job = _job(status="enqueue_failed", ended=NS + 1_000_000_000)
    body = job_status_json(job, None, Metrics())
    assert (body["status"], body["end_time"]) == ("status_enqueue_failed", "2022-03-01T10:11:13.123456789Z")
    assert code(_job(), None) == "unexpected_error"  # enqueued, but its local job is gone


def test_the_submission_s_answer_has_the_seed_s_fields() -> None:
    body = submitted_json(_job(timeout=3600, config={"a": 1}))
    assert set(body) == SEED_SUBMITTED | {"start_time"}
    assert (body["timeout"], body["config"], body["sqs_dead_letter_queue"]) == (3600, {"a": 1}, None)
    assert submitted_json(_job())["config"] == {}


def test_the_deadline_counts_from_submission() -> None:
    assert _job(timeout=60).deadline == NS + 60_000_000_000
    assert _job().deadline is None


@pytest.fixture
def service(tmp_path: Path) -> Iterator[JobService]:
    engine = Engine(tmp_path / "data")  # not started: no job runs
    try:
        yield JobService(engine)
    finally:
        engine.store.close()


def test_a_job_that_was_enqueuing_when_the_service_stopped_failed_to_enqueue(service: JobService) -> None:
    job = _job(status="enqueuing")
    service.documents("cortex").insert(KIND, job.id, job.body(), scope=job.api)
    cortex = Cortex(service)  # what starting the service again builds
    after = cortex.job(job.api, job.id)
    assert after.status == "enqueue_failed" and after.ended is not None
    assert code(after, None) == "enqueue_failed"
