"""Pure translation between Cortex's wire and jobnode: states, progress, both response shapes, ids, times, and a
`JobSpec` as a submission (each input kind, the limits, what cannot map)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jobnode.core.models import (
    ArtifactsInput,
    DelimitedInput,
    FilesInput,
    ItemsInput,
    JobSpec,
    JobState,
    Webhook,
)
from jobnode.platforms.cortex import mapping, messages, wire

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

#: a status as the documentation (0.28, the seed) shows it, and as the emulator answers
SEED_STATUS: dict[str, Any] = {
    "job_status": {
        "job_id": "69b183ed6bdf3e9b",
        "api_name": "image-classifier",
        "kind": "BatchAPI",
        "workers": 2,
        "config": {"dest_s3_dir": "s3://my-bucket/dir"},
        "api_id": "a1",
        "sqs_url": "https://sqs.us-west-2.amazonaws.com/123/cx.fifo",
        "status": "status_running",
        "batches_in_queue": 3,
        "batch_metrics": {"succeeded": 5, "failed": 1, "avg_time_per_batch": 0.5},
        "worker_counts": {"pending": 0, "initializing": 0, "running": 2, "succeeded": 0, "failed": 0, "stalled": 0},
        "created_time": "2022-03-01T10:11:12.123456789Z",
        "start_time": "2022-03-01T10:11:12.123456789Z",
        "total_batch_count": 9,
    },
    "endpoint": "https://lb/image-classifier?jobID=69b183ed6bdf3e9b",
    "api_spec": {"name": "image-classifier"},
}
#: the same job as the 0.42 operator answers (protocol file, section 5.3)
CURRENT_STATUS: dict[str, Any] = {
    "api_spec": {"name": "image-classifier", "kind": "BatchAPI"},
    "job_status": {
        "job_id": "69b183ed6bdf3e9b",
        "api_name": "image-classifier",
        "kind": "BatchAPI",
        "workers": 2,
        "sqs_dead_letter_queue": None,
        "config": {"dest_s3_dir": "s3://my-bucket/dir"},
        "timeout": 3600,
        "api_id": "a1",
        "sqs_url": "https://sqs.us-west-2.amazonaws.com/123/cx.fifo",
        "total_batch_count": 9,
        "start_time": "2022-03-01T10:11:12.123456789Z",
        "status": "running",
        "batches_in_queue": 3,
        "worker_counts": {"pending": 0, "creating": 0, "not_ready": 0, "ready": 2},
    },
    "metrics": {"succeeded": 5, "failed": 1, "average_time_per_batch": 0.5},
    "endpoint": "https://lb/image-classifier?jobID=69b183ed6bdf3e9b",
}


def _response(status: str, **job_status: Any) -> wire.BatchJobResponse:
    body = {**SEED_STATUS["job_status"], "status": status, **job_status}
    return wire.BatchJobResponse.model_validate({"job_status": body})


class TestStates:
    @pytest.mark.parametrize(
        ("status", "state"),
        [
            ("pending", JobState.QUEUED),
            ("enqueuing", JobState.QUEUED),
            ("running", JobState.RUNNING),
            ("succeeded", JobState.SUCCEEDED),
            ("completed_with_failures", JobState.FAILED),
            ("enqueue_failed", JobState.FAILED),
            ("unexpected_error", JobState.FAILED),
            ("worker_error", JobState.FAILED),
            ("worker_oom", JobState.FAILED),
            ("timed_out", JobState.TIMED_OUT),
            ("stopped", JobState.CANCELLED),
            ("unknown", JobState.RUNNING),
            ("something_new", JobState.RUNNING),
        ],
    )
    def test_both_spellings_map_alike(self, status: str, state: JobState) -> None:
        assert mapping.job_state(status) is state
        assert mapping.job_state("status_" + status) is state

    @pytest.mark.parametrize(
        ("status", "reason"),
        [
            ("status_completed_with_failures", "completed with failures: 1 failed batch attempt(s), 5 batch(es)"),
            ("status_enqueue_failed", "failed while enqueuing: Cortex reports why in the job's logs"),
            ("status_timed_out", "timed out: the timeout of 60s from submission passed"),
            ("status_worker_oom", "out of memory"),
            ("status_stopped", "stopped"),
        ],
    )
    def test_an_end_says_why(self, status: str, reason: str) -> None:
        job = mapping.to_job(_response(status, timeout=60), api_name="image-classifier", url="u")
        assert job.reason is not None and job.reason.startswith(reason)
        assert job.raw_state == status
        assert job.message == mapping.MESSAGES[status.removeprefix("status_")]

    def test_a_job_that_succeeded_has_no_reason(self) -> None:
        job = mapping.to_job(_response("succeeded"), api_name="image-classifier", url="u")
        assert (job.state, job.reason, job.message) == (JobState.SUCCEEDED, None, "succeeded")


class TestShapes:
    @pytest.mark.parametrize("body", [SEED_STATUS, CURRENT_STATUS], ids=["0.28-seed", "0.42"])
    def test_both_shapes_give_the_same_job(self, body: dict[str, Any]) -> None:
        response = wire.BatchJobResponse.model_validate(body)
        job = mapping.to_job(response, api_name="image-classifier", url="https://lb/x")
        assert job.id == "image-classifier/69b183ed6bdf3e9b"
        assert job.platform == "cortex" and job.step == "image-classifier"
        assert job.state is JobState.RUNNING
        assert job.created_at == datetime(2022, 3, 1, 10, 11, 12, 123456, tzinfo=UTC)
        assert job.progress.model_dump(include={"batches_total", "batches_queued", "batches_running"}) == {
            "batches_total": 9,
            "batches_queued": 1,
            "batches_running": 2,
        }
        assert (job.progress.batches_succeeded, job.progress.batches_failed) == (5, 1)
        assert response.batch_metrics().average() == 0.5
        assert [o.id for o in job.outputs] == ["s3://my-bucket/dir/69b183ed6bdf3e9b/"]
        assert job.raw is not None and job.raw["job_status"]["status"] == response.job_status.status

    def test_a_job_without_a_results_directory_has_no_output(self) -> None:
        job = mapping.to_job(_response("status_succeeded", config=None), api_name="a", url="u")
        assert job.outputs == []

    def test_times(self) -> None:
        assert mapping.parse_time("2022-03-01T10:11:12Z") == datetime(2022, 3, 1, 10, 11, 12, tzinfo=UTC)
        assert mapping.parse_time(mapping.ZERO_TIME) is None  # what the 0.42 CLI writes for a missing time
        assert mapping.parse_time(None) is None
        assert mapping.parse_time("yesterday") is None
        job = mapping.to_job(_response("status_succeeded", end_time="2022-03-01T10:15:00Z"), api_name="a", url="u")
        assert job.ended_at == datetime(2022, 3, 1, 10, 15, tzinfo=UTC)

    def test_the_seeds_submit_answer_and_the_codes(self) -> None:
        seed = {"job_id": "1", "api_name": "a", "kind": "BatchAPI", "created_time": "2022-03-01T10:11:12Z"}
        code = {"job_id": "1", "api_name": "a", "kind": "BatchAPI", "start_time": "2022-03-01T10:11:12Z"}
        for body in (seed, code):
            job = mapping.submitted("a", wire.BatchJob.model_validate(body), url="u")
            assert (job.id, job.state, job.created_at) == (
                "a/1",
                JobState.QUEUED,
                datetime(2022, 3, 1, 10, 11, 12, tzinfo=UTC),
            )


class TestIds:
    def test_an_id_names_the_api_and_the_job(self) -> None:
        assert mapping.split_ref("image-classifier/69b1", None) == ("image-classifier", "69b1")
        assert mapping.split_ref("69b1", "image-classifier") == ("image-classifier", "69b1")
        assert mapping.job_ref("a", "1") == "a/1"

    @pytest.mark.parametrize(("ref", "message"), [("69b1", "names no Batch API"), ("api/", "names no job")])
    def test_an_id_that_names_too_little_is_refused(self, ref: str, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            mapping.split_ref(ref, None)


def _spec(job_input: Any, **fields: Any) -> JobSpec:
    return JobSpec(step="image-classifier", input=job_input, **fields)


class TestSubmission:
    def test_items(self) -> None:
        spec = _spec(ItemsInput(items=[{"url": "s3://b/1.jpg"}, {"url": "s3://b/2.jpg"}]), batch_size=1, workers=2)
        assert mapping.submission(spec).to_wire() == {
            "workers": 2,
            "item_list": {"items": [{"url": "s3://b/1.jpg"}, {"url": "s3://b/2.jpg"}], "batch_size": 1},
        }

    def test_files_with_globs(self) -> None:
        spec = _spec(FilesInput(paths=["s3://bucket/images/"], includes=["**.jpg"], excludes=["**_3.jpg"]))
        assert mapping.submission(spec).to_wire() == {
            "workers": 1,
            "file_path_lister": {
                "s3_paths": ["s3://bucket/images/"],
                "includes": ["**.jpg"],
                "excludes": ["**_3.jpg"],
                "batch_size": 100,
            },
        }

    def test_delimited_files_and_artifacts(self) -> None:
        delimited = mapping.submission(_spec(DelimitedInput(paths=["s3://b/lines/"]), batch_size=500)).to_wire()
        assert delimited["delimited_files"] == {
            "s3_paths": ["s3://b/lines/"],
            "includes": [],
            "excludes": [],
            "batch_size": 500,
        }
        outputs = mapping.submission(_spec(ArtifactsInput(artifacts=["s3://r/out/69b1/"]))).to_wire()
        assert outputs["delimited_files"]["s3_paths"] == ["s3://r/out/69b1/"]

    def test_params_timeout_results_and_dead_letters(self) -> None:
        spec = _spec(ItemsInput(items=[1]), params={"top_k": 5}, timeout=59.2, max_attempts=4)
        body = mapping.submission(
            spec, dest_s3_dir="s3://r/out", dead_letter_queue_arn="arn:aws:sqs:us-west-2:1:dlq.fifo"
        ).to_wire()
        assert body["config"] == {"top_k": 5, "dest_s3_dir": "s3://r/out"}
        assert body["timeout"] == 60  # whole seconds, rounded up
        assert body["sqs_dead_letter_queue"] == {"arn": "arn:aws:sqs:us-west-2:1:dlq.fifo", "max_receive_count": 4}
        own = _spec(ItemsInput(items=[1]), params={"dest_s3_dir": "s3://mine/x"})
        assert mapping.submission(own, dest_s3_dir="s3://r/out").to_wire()["config"] == {"dest_s3_dir": "s3://mine/x"}

    def test_stop_at_is_a_timeout_from_submission(self) -> None:
        spec = _spec(ItemsInput(items=[1]), stop_at=NOW + timedelta(minutes=10), timeout=3600)
        assert mapping.submission(spec, now=NOW).to_wire()["timeout"] == 600
        with pytest.raises(ValueError, match="stop_at: it has passed"):
            mapping.submission(_spec(ItemsInput(items=[1]), stop_at=NOW - timedelta(seconds=1)), now=NOW)

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"step_version": "2"}, "step_version: a Cortex Batch API has no versions"),
            ({"start_at": NOW}, "start_at: a Cortex job starts when it is submitted"),
            ({"webhook": Webhook(url="https://example.com/h")}, "webhook: Cortex Batch APIs have no webhooks"),
            ({"parent_id": "a/1"}, "parent_id: Cortex jobs have no parents"),
            ({"max_item_failures": 3}, "max_item_failures: Cortex counts batches, not items"),
            ({"max_attempts": 3}, "max_attempts: Cortex retries a batch only through a dead-letter queue"),
        ],
    )
    def test_what_cannot_map_is_refused_by_name(self, fields: dict[str, Any], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            mapping.submission(_spec(ItemsInput(items=[1]), **fields), now=NOW)

    def test_defaults_that_cannot_map_pass(self) -> None:
        # jobnode's own defaults (3 attempts, no failure tolerance) are not the user's request
        body = mapping.submission(_spec(ItemsInput(items=[1]), max_attempts=1, tags=["nightly"]), now=NOW).to_wire()
        assert "sqs_dead_letter_queue" not in body

    @pytest.mark.parametrize(
        "job_input",
        [FilesInput(paths=["/data/images/"]), DelimitedInput(paths=["gs://b/x"]), ArtifactsInput(artifacts=["art_1"])],
    )
    def test_only_s3_paths(self, job_input: Any) -> None:
        with pytest.raises(ValueError, match=r"input\.(paths|artifacts)\[0\]: .* is not an S3 path"):
            mapping.submission(_spec(job_input))


class TestLimits:
    def test_an_item_over_the_limit_is_named(self) -> None:
        items = ["small", "x" * messages.MESSAGE_LIMIT]
        with pytest.raises(ValueError, match=r"input\.items\[1\]: the item takes 256,002 bytes"):
            mapping.submission(_spec(ItemsInput(items=items)))

    def test_the_batch_over_the_limit_is_named(self) -> None:
        items = ["a" * 100_000] * 5
        with pytest.raises(ValueError, match=r"batch_size: batch 0 \(items 0 to 2\) takes 300,010 bytes"):
            mapping.submission(_spec(ItemsInput(items=items), batch_size=3))
        assert mapping.submission(_spec(ItemsInput(items=items), batch_size=2)).item_list is not None

    def test_sizes_are_measured_as_go_writes_the_batch(self) -> None:
        # Go escapes <, > and & in a message (6 bytes each), not in the request
        assert messages.item_size("<&>") == 5
        assert messages.json_size(messages.compact("<&>")) == 20
        assert messages.batch_size([3, 4]) == 10  # [aaa,bbbb]
        html = ["<" * 60_000] * 2
        found = messages.oversized(html, 2)
        assert found is not None and found.size == 2 + 2 * (2 + 6 * 60_000) + 1
        assert found.cortex_error(2).startswith("items with index between 0 to 2: cannot enqueue message")
        assert messages.Oversized(index=3, first=3, stop=4, size=1).cortex_error(1).startswith("item 3: ")

    def test_the_request_limit(self) -> None:
        items = ["x" * 200_000] * 60  # 12 MB in all, each batch under the message limit
        with pytest.raises(ValueError, match=r"input\.items: the submission takes .* bytes; Cortex takes at most"):
            mapping.submission(_spec(ItemsInput(items=items), batch_size=1))
