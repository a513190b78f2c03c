"""The Nexus wire models read and write the exact casing of the wire (camelCase, PascalCase item counters)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from jobnode.platforms.nexus import wire

# The job of the batch-jobs guide, as it is on the wire
GUIDE_JOB: dict[str, Any] = {
    "id": "batchjob_4e5566d0-6538-441a-9fa5-f3495516646a",
    "object": "batch_job",
    "name": "my-batch-job-08-15",
    "projectId": "proj_ca5fe71e7592bbcf7705ea36e4f29ed4",
    "spec": {
        "startAtTime": 1723734419985,
        "stopAtTime": 1723993619985,
        "datasetId": "dataset_652ef566-af5c-4d52-b1e4-ec8ec6dc4b8e",
        "resultDelivery": {
            "destinations": [{"kind": "Webhook", "webhookId": "webhook_ed981529-0160-4704-8794-e7702a8de470"}]
        },
        "deployment": {"kind": "ExistingDeployment", "deploymentId": "deploy_3286bd71-9a8b-42bb-8ba6-c07549b81367"},
    },
    "status": {
        "overview": "Reached",
        "message": "Finished",
        "updateDate": 1723734509417,
        "items": {
            "Gathered": 50,
            "FailedGather": 0,
            "Preprocessed": 50,
            "FailedProcess": 0,
            "Predicted": 50,
            "FailedPredict": 0,
            "Delivered": 50,
            "FailedDeliver": 0,
        },
    },
    "createDate": 1723734419985,
    "updateDate": 1723734509434,
}


def test_a_guide_job_round_trips_with_its_casing() -> None:
    job = wire.BatchJob.model_validate(GUIDE_JOB)
    assert job.status.items.delivered == 50 and job.project_id.startswith("proj_")
    assert isinstance(job.spec.deployment, wire.ExistingDeployment)
    assert job.to_wire() == GUIDE_JOB


def test_counters_are_pascal_case_and_all_sent() -> None:
    counts = wire.ItemCounts(predicted=3)
    assert counts.to_wire() == {
        "Gathered": 0,
        "FailedGather": 0,
        "Preprocessed": 0,
        "FailedProcess": 0,
        "Predicted": 3,
        "FailedPredict": 0,
        "Delivered": 0,
        "FailedDeliver": 0,
    }
    assert wire.ItemCounts.model_validate({"FailedDeliver": 2}).failed_deliver == 2


def test_an_ephemeral_deployment_is_told_apart_by_its_kind() -> None:
    spec = wire.BatchJobSpec.model_validate(
        {
            "deployment": {
                "kind": "NewEphemeralDeployment",
                "template": {"artifactId": "artifact_abc", "instanceId": "instance_t4-standard-1g"},
            }
        }
    )
    assert isinstance(spec.deployment, wire.NewEphemeralDeployment)
    assert spec.deployment.template.artifact_id == "artifact_abc"
    assert spec.to_wire()["deployment"]["template"] == {
        "artifactId": "artifact_abc",
        "instanceId": "instance_t4-standard-1g",
    }
    assert spec.to_wire()["resultDelivery"] == {"destinations": []}


def test_a_deployment_without_its_kind_is_refused() -> None:
    with pytest.raises(ValidationError, match="kind"):
        wire.BatchJobSpec.model_validate({"deployment": {"deploymentId": "deploy_1"}})


def test_a_page_sends_its_cursors_even_when_null() -> None:
    page = wire.Page[wire.DeleteResponse](data=[wire.DeleteResponse(id="x", deleted=True)])
    assert page.to_wire() == {"nextPage": None, "prevPage": None, "data": [{"id": "x", "deleted": True}]}
    parsed = wire.Page[wire.BatchJob].model_validate({"nextPage": "abc", "data": [GUIDE_JOB]})
    assert parsed.next_page == "abc" and parsed.data[0].id == GUIDE_JOB["id"]


def test_a_log_entry_defaults_its_reason() -> None:
    entry = wire.LogEntry.model_validate(
        {
            "kind": "ItemPredicted",
            "createTime": 1723080300011,
            "id": "1e0a",
            "level": "Info",
            "item": "https://my-endpoint.url/blood_cell/36.jpg",
            "status": "Delivered",
            "timeMs": 9819.226,
        }
    )
    assert entry.reason == "" and entry.time_ms == pytest.approx(9819.226)


def test_the_cancel_request_carries_only_the_stop_time() -> None:
    assert wire.PatchJobRequest(spec=wire.PatchJobSpec(stop_at_time=5)).to_wire() == {"spec": {"stopAtTime": 5}}
    with pytest.raises(ValidationError, match="name"):
        wire.PatchJobRequest.model_validate({"spec": {"stopAtTime": 5, "name": "renamed"}})


def test_a_webhook_secret_stays_out_of_reprs() -> None:
    spec = wire.WebhookSpec(endpoint="https://example.com", secret=wire.WebhookSecret(contents="c2VjcmV0"))
    assert "c2VjcmV0" not in repr(spec)
