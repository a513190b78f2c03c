"""Nexus's states, counters and log entries in jobnode's vocabulary, and a `JobSpec` as a Nexus request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from jobnode.core.models import ArtifactsInput, JobSpec, JobState, LogLevel
from jobnode.platforms.nexus import mapping, wire

NOW = 1_800_000_000_000


def nexus_job(overview: str = "Waiting", *, items: dict[str, int] | None = None, **status: Any) -> wire.BatchJob:
    spec = status.pop("spec", {})
    return wire.BatchJob.model_validate(
        {
            "id": "batchjob_1",
            "name": "j",
            "projectId": "proj_1",
            "spec": {
                "deployment": {"kind": "ExistingDeployment", "deploymentId": "deploy_1"},
                "datasetId": "dataset_1",
                **spec,
            },
            "status": {"overview": overview, "message": "m", "updateDate": NOW, "items": items or {}, **status},
            "createDate": NOW - 1000,
            "updateDate": NOW,
        }
    )


@pytest.mark.parametrize(
    ("job", "item_count", "state"),
    [
        (nexus_job("Waiting"), 10, JobState.QUEUED),
        (nexus_job("Waiting", items={"Gathered": 10}), 10, JobState.QUEUED),
        (nexus_job("Waiting", spec={"startAtTime": NOW + 60_000}), 10, JobState.SCHEDULED),
        (nexus_job("Waiting", items={"Gathered": 10, "Predicted": 3}), 10, JobState.RUNNING),
        (nexus_job("Waiting", items={"Delivered": 7, "FailedDeliver": 2}), 10, JobState.RUNNING),
        # Datature's waiter: done once every item was delivered or failed to be, whatever the overview says
        (nexus_job("Waiting", items={"Delivered": 8, "FailedDeliver": 2}), 10, JobState.SUCCEEDED),
        (nexus_job("Reached", items={"Delivered": 10}), 10, JobState.SUCCEEDED),
        (nexus_job("Reached", items={"Delivered": 4}), 10, JobState.RUNNING),
        (nexus_job("Reached", items={"Delivered": 4}, spec={"stopAtTime": NOW - 1}), 10, JobState.TIMED_OUT),
        (nexus_job("Failed", cancelledAt=NOW - 5), 10, JobState.CANCELLED),
        (nexus_job("Failed", spec={"stopAtTime": NOW - 10}), 10, JobState.TIMED_OUT),
        (nexus_job("Failed"), 10, JobState.FAILED),
        (nexus_job("Failed", items={"Delivered": 10}), 10, JobState.FAILED),
        # the dataset is gone: what was gathered is the total
        (nexus_job("Waiting", items={"Gathered": 4, "Delivered": 4}), None, JobState.SUCCEEDED),
        (nexus_job("Waiting"), None, JobState.QUEUED),
    ],
)
def test_states(job: wire.BatchJob, item_count: int | None, state: JobState) -> None:
    assert mapping.job_state(job, item_count, NOW) is state


def test_progress_maps_each_counter() -> None:
    job = nexus_job(
        items={
            "Gathered": 9,
            "FailedGather": 1,
            "Preprocessed": 8,
            "FailedProcess": 1,
            "Predicted": 6,
            "FailedPredict": 2,
            "Delivered": 5,
            "FailedDeliver": 3,
        }
    )
    progress = mapping.progress(job, 10)
    assert (progress.items_total, progress.items_gathered, progress.items_processed, progress.items_failed) == (
        10,
        9,
        6,
        4,
    )
    assert (progress.items_delivered, progress.items_failed_delivery) == (5, 3)


def test_to_job_keeps_the_raw_overview_and_the_dataset_as_input() -> None:
    job = mapping.to_job(nexus_job("Failed", cancelledAt=NOW - 5, reason="stop"), 10, url="u", now_ms=NOW)
    assert (job.state, job.raw_state, job.reason, job.platform) == (JobState.CANCELLED, "Failed", "stop", "nexus")
    assert job.ended_at == datetime.fromtimestamp((NOW - 5) / 1000, UTC)
    assert [a.id for a in job.inputs] == ["dataset_1"] and job.step == "deploy_1"
    assert job.raw is not None and job.raw["status"]["items"]["Delivered"] == 0


def test_log_entries_and_levels() -> None:
    (entry,) = mapping.to_log_entries(
        [
            wire.LogEntry(
                kind="ItemFailed",
                create_time=NOW,
                id="7",
                level="Error",
                item="a.jpg",
                status="Failed",
                time_ms=1.5,
                reason="bad",
            )
        ]
    )
    assert (entry.level, entry.item, entry.message, entry.duration_ms) == (LogLevel.ERROR, "a.jpg", "bad", 1.5)
    assert entry.time == datetime.fromtimestamp(NOW / 1000, UTC)
    assert mapping.parse_level("Verbose") is LogLevel.INFO
    assert [mapping.level_name(level) for level in LogLevel] == ["Debug", "Info", "Warning", "Error"]


def test_project_ids_get_their_prefix() -> None:
    assert mapping.project_id("b705a") == mapping.project_id("proj_b705a") == "proj_b705a"
    with pytest.raises(ValueError, match="project_id"):
        mapping.project_id(" ")


# -- a JobSpec as a request -----------------------------------------------------------------------------------------


def spec(**fields: Any) -> JobSpec:
    return JobSpec(
        **{"name": "nightly", "step": "deploy_abc", "input": ArtifactsInput(artifacts=["dataset_1"]), **fields}
    )


def test_an_existing_deployment_with_times() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    body = mapping.create_request(
        spec(start_at=start, stop_at=start + timedelta(hours=1)), dataset_id="dataset_1", webhook_id="webhook_1"
    ).to_wire()
    assert body == {
        "name": "nightly",
        "spec": {
            "deployment": {"kind": "ExistingDeployment", "deploymentId": "deploy_abc"},
            "resultDelivery": {"destinations": [{"kind": "Webhook", "webhookId": "webhook_1"}]},
            "datasetId": "dataset_1",
            "startAtTime": 1767225600000,
            "stopAtTime": 1767229200000,
        },
    }


def test_an_artifact_deploys_with_the_params() -> None:
    body = mapping.create_request(
        spec(step="artifact_x", step_version="3", params={"region": "us-central1", "instance_id": "instance_t4"}),
        dataset_id="dataset_1",
        webhook_id=None,
    ).to_wire()
    assert body["spec"]["deployment"] == {
        "kind": "NewEphemeralDeployment",
        "template": {
            "name": "nightly",
            "artifactId": "artifact_x",
            "replicas": 1,
            "region": "us-central1",
            "versionTag": "3",
            "instanceId": "instance_t4",
        },
    }
    assert body["spec"]["resultDelivery"] == {"destinations": []}


def test_an_unknown_artifact_param_is_named() -> None:
    with pytest.raises(ValidationError, match="gpu"):
        mapping.deployment_for(spec(step="artifact_x", params={"gpu": 1}))


def test_params_of_an_existing_deployment_are_refused() -> None:
    with pytest.raises(ValueError, match=r"params: .*takes no parameters"):
        mapping.deployment_for(spec(params={"top_k": 3}))
    with pytest.raises(ValueError, match="step_version"):
        mapping.deployment_for(spec(step_version="2"))


def test_a_step_name_is_a_mapped_or_conventional_deployment() -> None:
    assert mapping.deployment_for(spec(step="sentiment"), {"sentiment": "deploy_77"}) == wire.ExistingDeployment(
        deployment_id="deploy_77"
    )
    assert mapping.deployment_for(spec(step="sentiment", step_version="2")) == wire.ExistingDeployment(
        deployment_id="deploy_sentiment@2"
    )


def test_a_timeout_becomes_the_stop_time() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    body = mapping.create_request(spec(start_at=start, timeout=90), dataset_id="d", webhook_id=None)
    assert body.spec.stop_at_time == mapping.to_ms(start) + 90_000
