"""Pure translation between Nucleus's wire and jobnode: the state table, counters, upload errors, and a `JobSpec` as
an upload (with every field Nucleus cannot take refused by name)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from jobnode.core.models import (
    ArtifactsInput,
    FilesInput,
    ItemsInput,
    JobSpec,
    JobState,
    LogLevel,
    Webhook,
)
from jobnode.platforms.nucleus import mapping, wire

INFO = wire.JobInfo(
    job_id="job_c19xcf9mkws46gah0000",
    job_last_known_status="Running",
    job_type="uploadAnnotations",
    job_creation_time="2024-01-01T00:00:00.000Z",
)
#: the seed's error string, as `job.errors()` shows it
SEED_ERROR = (
    '{"annotation":{"label":"car","type":"box","geometry":{"x":50,"y":60,"width":70,"height":80},'
    '"referenceId":"bad_ref_id","annotationId":"attempted_annot_upload","metadata":{}},'
    '"error":"Item with id bad_ref_id doesn\'t exist."}'
)


@pytest.mark.parametrize(
    ("status", "state", "sdk_raises"),
    [
        ("Queued", JobState.QUEUED, False),
        ("Running", JobState.RUNNING, False),
        ("Completed", JobState.SUCCEEDED, False),
        ("Errored", JobState.FAILED, True),
        ("Errored_Server", JobState.FAILED, True),
        ("Errored_User", JobState.FAILED, True),
        ("Errored_Partial", JobState.FAILED, True),
        ("Errored_Hanging", JobState.FAILED, True),
        ("Errored_Someday", JobState.FAILED, True),
        ("Cancelled", JobState.CANCELLED, False),
        ("Retried", JobState.FAILED, False),
        ("Paused", JobState.FAILED, False),
    ],
)
def test_every_status_maps_as_the_sdks_waiter_ends(status: str, state: JobState, sdk_raises: bool) -> None:
    assert mapping.job_state(status) is state
    assert mapping.is_error(status) is sdk_raises
    # the SDK's waiter polls on while Running only; jobnode also waits through Queued (which has not run yet)
    assert state.is_terminal is (status not in ("Running", "Queued"))


def test_a_job_from_its_info_and_status() -> None:
    status = wire.JobStatus.model_validate(
        {
            "job_id": INFO.job_id,
            "status": "Errored_Partial",
            "message": "1 of 3 annotations failed",
            "job_progress": "0.33",
            "completed_steps": "1",
            "total_steps:": "3",  # the seed's spelling
        }
    )
    job = mapping.to_job(INFO, status, url="https://api.scale.com/v1/nucleus/job/x")
    assert (job.id, job.state, job.raw_state) == (INFO.job_id, JobState.FAILED, "Errored_Partial")
    assert (job.name, job.step, job.platform) == ("uploadAnnotations", "annotate", "nucleus")
    assert job.reason == job.message == "1 of 3 annotations failed"
    assert (job.progress.items_total, job.progress.items_processed) == (3, 1)
    assert job.created_at == datetime(2024, 1, 1, tzinfo=UTC)
    assert job.raw is not None and job.raw["job_type"] == "uploadAnnotations" and job.raw["total_steps"] == "3"


def test_a_listed_job_has_its_last_known_status_and_no_counters() -> None:
    job = mapping.to_job(INFO, None, url="u")
    assert (job.state, job.raw_state, job.reason) == (JobState.RUNNING, "Running", None)
    assert job.progress.items_total is None
    other = mapping.to_job(INFO.model_copy(update={"job_type": "indexingImage"}), None, url="u")
    assert other.step is None and other.name == "indexingImage"


def test_a_message_that_is_an_object_and_counters_that_are_not_numbers() -> None:
    status = wire.JobStatus(status="Completed", message={"result": ["https://x"]}, total_steps="n/a")
    job = mapping.to_job(INFO, status, url="u")
    assert json.loads(job.message or "") == {"result": ["https://x"]}
    assert job.progress.items_total is None and job.progress.items_processed == 0


def test_times_as_nucleus_writes_and_reads_them() -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC)
    assert mapping.format_time(when) == "2024-01-02T03:04:05.678Z"
    assert mapping.parse_time("2024-01-02T03:04:05.678Z") == datetime(2024, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
    assert mapping.parse_time("2024-01-01 00:00:00") == datetime(2024, 1, 1, tzinfo=UTC)  # str(datetime), the SDK's
    assert mapping.parse_time("2024-01-01") == datetime(2024, 1, 1, tzinfo=UTC)
    assert mapping.parse_time("yesterday") is None


def test_the_seeds_error_string_is_built_and_read_back() -> None:
    annotation = {
        "label": "car",
        "type": "box",
        "geometry": {"x": 50, "y": 60, "width": 70, "height": 80},
        "reference_id": "bad_ref_id",
        "annotation_id": "attempted_annot_upload",
        "metadata": {},
        "embedding_vector": None,  # the SDK's payload has these nulls; the seed's error object does not
        "track_reference_id": None,
        "task_id": None,
    }
    text = wire.upload_error("annotation", annotation, wire.missing_item_error("bad_ref_id"))
    assert text == SEED_ERROR
    assert mapping.parse_upload_error(text) == ("bad_ref_id", "Item with id bad_ref_id doesn't exist.")
    assert mapping.parse_upload_error('{"item":{"reference_id":"x"},"error":"bad"}') == ("x", "bad")
    assert wire.upload_error("annotation", 7, "not an object") == '{"annotation":7,"error":"not an object"}'
    assert mapping.parse_upload_error("the server broke") == (None, "the server broke")
    assert mapping.parse_upload_error('["not", "an", "error"]') == (None, '["not", "an", "error"]')


def test_errors_become_jobnode_errors_and_error_log_entries() -> None:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    [error] = mapping.to_errors([SEED_ERROR], at)
    assert (error.time, error.item, error.message) == (at, "bad_ref_id", "Item with id bad_ref_id doesn't exist.")
    entries = mapping.to_log_entries([SEED_ERROR, "oops"], at)
    assert [(e.id, e.level, e.kind, e.item) for e in entries] == [
        ("0", LogLevel.ERROR, "ItemFailed", "bad_ref_id"),
        ("1", LogLevel.ERROR, "ItemFailed", None),
    ]


def test_the_list_request_sends_every_key_as_the_sdk_does() -> None:
    body = wire.JobInfoRequest(show_completed=True).to_wire()
    assert body == {
        "dataset_id": None,
        "job_types": [],
        "from_date": None,
        "to_date": None,
        "limit": 50000,
        "show_completed": True,
    }


# -- a JobSpec as an upload -----------------------------------------------------------------------------------------


def spec(**fields: Any) -> JobSpec:
    fields.setdefault("step", "append")
    fields.setdefault("input", ItemsInput(items=[{"reference_id": "a", "image_url": "s3://b/a.jpg"}]))
    return JobSpec(**fields)


def test_append_and_annotate_with_their_dataset() -> None:
    upload = mapping.upload_for(spec(params={"dataset_id": "ds_1", "update": True}), default_dataset="ds_0")
    assert (upload.operation, upload.dataset_id, upload.update) == ("append", "ds_1", True)
    assert (upload.route, upload.job_type) == ("dataset/ds_1/append?async=1", "uploadDatasetItems")
    annotate = mapping.upload_for(spec(step="annotate"), default_dataset="ds_0")
    assert (annotate.route, annotate.job_type) == ("dataset/ds_0/annotate?async=1", "uploadAnnotations")


def test_what_nucleus_has_no_counterpart_for_is_not_sent() -> None:
    upload = mapping.upload_for(
        spec(name="nightly", tags=["prefect-flow-run:1"], batch_size=7, workers=3, max_attempts=9),
        default_dataset="ds_0",
    )
    assert upload == mapping.Upload(operation="append", dataset_id="ds_0", update=False)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"step": "sentiment"}, "step: Nucleus runs no step 'sentiment'"),
        ({"step_version": "2"}, "step_version: "),
        ({"timeout": 60}, "timeout: a Nucleus job has no time limit"),
        ({"start_at": datetime(2030, 1, 1, tzinfo=UTC)}, "start_at: "),
        ({"stop_at": datetime(2030, 1, 1, tzinfo=UTC)}, "stop_at: Nucleus cannot stop a job"),
        ({"webhook": Webhook(url="https://example.com/hook")}, "webhook: "),
        ({"parent_id": "job_1"}, "parent_id: "),
        ({"max_item_failures": 3}, "max_item_failures: Nucleus ends a job with any item error Errored_Partial"),
        ({"input": ArtifactsInput(artifacts=["art_1"])}, "input: Nucleus uploads items or annotations"),
        ({"step": "annotate", "input": FilesInput(paths=["/x.jpg"])}, "input: files= are images to append"),
        ({"params": {"dataset": "ds_1"}}, "params.dataset: Extra inputs are not permitted"),
        ({"params": {"update": "sometimes"}}, "params.update: "),
    ],
)
def test_what_cannot_map_is_refused_by_name(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        mapping.upload_for(spec(**fields), default_dataset="ds_0")


def test_a_dataset_must_be_named_somewhere() -> None:
    with pytest.raises(ValueError, match=r"params\.dataset_id: name the dataset"):
        mapping.upload_for(spec(), default_dataset=None)


@pytest.mark.parametrize(
    ("operation", "unit", "message"),
    [
        ("append", "img.jpg", r"input.items\[0\]: an item is a JSON object \(got str\)"),
        ("append", {"image_url": "s3://b/1.jpg"}, r"input.items\[0\].reference_id: required; give it"),
        ("append", {"reference_id": "a"}, r"input.items\[0\].image_url: required; give it"),
        ("append", {"reference_id": "a", "image_url": "u", "width": 0}, r"input.items\[0\].width: "),
        ("annotate", {"reference_id": "a"}, r"input.items\[0\].type: required"),
        ("annotate", {"reference_id": "a", "type": "blob"}, r"input.items\[0\].type: 'blob' is not a Nucleus type"),
        ("annotate", [], r"input.items\[0\]: an annotation is a JSON object \(got list\)"),
    ],
)
def test_a_bad_unit_is_named(operation: mapping.Operation, unit: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        mapping.check_unit(operation, unit, "input.items[0]")


def test_a_good_unit_is_sent_as_given() -> None:
    unit = {"reference_id": "a", "type": "box", "geometry": {"x": 1}, "custom": True}
    assert mapping.check_unit("annotate", unit, "here") is unit
