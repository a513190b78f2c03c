"""The pure translations between PinexQ's wire and jobnode's vocabulary, and the strict Siren models."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from jobnode.core.models import ArtifactsInput, ItemsInput, JobSpec, JobState, LogLevel, Webhook
from jobnode.platforms.pinexq import mapping
from jobnode.platforms.pinexq.siren import Entity
from jobnode.platforms.pinexq.wire import JobStates

H = "http://h/api"


def job_entity(state: str = "Completed", **properties: Any) -> Entity:
    wd = {
        "class": ["WorkData"],
        "properties": {"Name": "out.jsonl", "MediaType": "application/x-ndjson", "Kind": "ProcessingArtefact"},
        "links": [
            {"rel": ["self"], "href": f"{H}/workdata/art_2"},
            {"rel": ["Download"], "href": f"{H}/workdata/art_2/download", "type": "application/x-ndjson"},
        ],
    }
    body = {
        "class": ["Job"],
        "properties": {
            "Name": "nightly",
            "State": state,
            "Tags": ["a"],
            "CreatedAt": "2026-11-21T02:00:41.163275Z",
            "StartedAt": "2026-11-21T02:00:42Z",
            "CompletedAt": "2026-11-21T02:00:43Z",
            "Processing": {"FunctionName": "echo", "Version": "1.0.0"},
            **properties,
        },
        "entities": [
            {
                "class": ["InputDataSlot"],
                "rel": ["InputDataSlot"],
                "properties": {"Name": "in"},
                "entities": [{**wd, "rel": ["Selected"], "links": [{"rel": ["self"], "href": f"{H}/workdata/art_1"}]}],
            },
            {
                "class": ["OutputDataSlot"],
                "rel": ["OutputDataSlot"],
                "properties": {"Name": "out"},
                "entities": [{**wd, "rel": ["Assigned"]}],
            },
        ],
        "links": [{"rel": ["self"], "href": f"{H}/jobs/3fa8"}, {"rel": ["ParentJob"], "href": f"{H}/jobs/parent-1"}],
    }
    return Entity.model_validate(body)


@pytest.mark.parametrize(
    ("state", "description", "expected"),
    [
        ("Undefined", None, JobState.CREATED),
        ("Created", None, JobState.CREATED),
        ("ReadyForProcessing", None, JobState.CREATED),
        ("DataMissing", None, JobState.CREATED),
        ("Pending", None, JobState.QUEUED),
        ("Processing", None, JobState.RUNNING),
        ("Completed", None, JobState.SUCCEEDED),
        ("Error", "ValueError: no", JobState.FAILED),
        ("Error", f"{mapping.CANCEL_MARK}: cancelled by request", JobState.CANCELLED),
        ("Canceled", None, JobState.CANCELLED),
    ],
)
def test_every_state(state: str, description: str | None, expected: JobState) -> None:
    assert mapping.job_state(JobStates(state), description) is expected


def test_a_job_entity_as_a_job() -> None:
    job = mapping.to_job(job_entity())
    assert (job.id, job.name, job.state, job.raw_state, job.tags) == (
        "3fa8",
        "nightly",
        JobState.SUCCEEDED,
        "Completed",
        ["a"],
    )
    assert (job.step, job.step_version, job.parent_id, job.url) == ("echo", "1.0.0", "parent-1", f"{H}/jobs/3fa8")
    assert [a.id for a in job.inputs] == ["art_1"]
    [output] = job.outputs
    assert (output.id, output.job_id, output.name, output.uri) == (
        "art_2",
        "3fa8",
        "out.jsonl",
        f"{H}/workdata/art_2/download",
    )
    assert job.ended_at is not None and job.updated_at == job.ended_at
    assert job.raw is not None and job.raw["properties"]["State"] == "Completed"


def test_the_error_description_is_the_reason_of_a_failed_job_only() -> None:
    assert mapping.to_job(job_entity("Error", ErrorDescription="boom")).reason == "boom"
    running = mapping.to_job(job_entity("Processing", CompletedAt=None))
    assert (running.reason, running.ended_at) == (None, None)


def test_log_entries_of_any_shape() -> None:
    entry = mapping.to_log_entry(
        {"Id": "7", "Timestamp": "2026-11-21T02:00:41Z", "Level": "Warning", "Message": "slow", "Kind": "BatchFailed"},
        0,
    )
    assert (entry.id, entry.level, entry.message, entry.kind) == ("7", LogLevel.WARNING, "slow", "BatchFailed")
    bare = mapping.to_log_entry({"Timestamp": "2026-11-21T02:00:41+00:00", "Level": "Critical"}, 12)
    assert (bare.id, bare.level, bare.kind) == ("12", LogLevel.ERROR, "message")


def test_a_spec_as_a_rapid_setup() -> None:
    spec = JobSpec(name="n", step="echo", params={"x": 5}, input=ItemsInput(items=[1]), batch_size=7, workers=3)
    body = mapping.rapid_setup(spec, step_url=f"{H}/ps/1", input_urls=[f"{H}/wd/1"], parent_url=None, tags=["t"])
    assert body.to_wire() == {
        "Name": "n",
        "ProcessingStepUrl": f"{H}/ps/1",
        "Tags": ["t"],
        "Parameters": json.dumps({"x": 5}),
        "InputDataSlots": [{"Index": 0, "WorkDataUrls": [f"{H}/wd/1"]}],
        "Start": True,
    }


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"timeout": 5}, "timeout"),
        ({"start_at": "2030-01-01T00:00:00Z"}, "start_at"),
        ({"webhook": Webhook(url="https://example.com/hook")}, "webhook"),
    ],
)
def test_what_a_pinexq_job_cannot_do_is_refused_naming_the_field(fields: dict[str, Any], field: str) -> None:
    spec = JobSpec(step="echo", input=ArtifactsInput(artifacts=["a"]), **fields)
    with pytest.raises(ValueError, match=f"^{field}: "):
        mapping.check_spec(spec)


def test_resource_ids_are_the_last_segment_of_their_url() -> None:
    assert mapping.resource_id("http://h/api/jobs/3fa8?x=1") == "3fa8"
    assert mapping.resource_id("/api/workdata/art_1/") == "art_1"


@pytest.mark.parametrize(
    "body",
    [
        {"class": ["Job"], "extra": 1},
        {"class": ["Job"], "links": [{"rel": ["self"], "href": "x", "method": "GET"}]},
        {"class": ["Job"], "links": [{"rel": ["self"], "href": ""}]},
        {"class": ["Job"], "actions": [{"name": "Delete"}]},
    ],
)
def test_siren_entities_are_strict_as_the_sdk_is(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Entity.model_validate(body)


def test_siren_entities_find_links_actions_and_embedded_entities() -> None:
    entity = job_entity()
    assert entity.has_class("Job") and entity.kind == "Job"
    assert entity.self_href == f"{H}/jobs/3fa8" and entity.link("Logs") is None and entity.action("Delete") is None
    assert [e.kind for e in entity.embedded("OutputDataSlot")] == ["OutputDataSlot"]
    assert "rel" not in Entity(classes=["x"]).to_wire()
