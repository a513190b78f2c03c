"""Datature's own SDK (`datature==1.12.2`, unmodified) runs every example of the batch-jobs guide against the
emulator (`jobnode serve --platform nexus`).

Each example runs as written in the guide, in the SDK's own environment, with `project` already made by
`Client(secret_key).get_project(...)` and the guide's ids replaced by real ones. Two changes, both forced by the SDK:
`"webhook_id"=` is a syntax error in the guide (it is `"webhook_id":` here), and a job created from an artifact
names its `deployment_metadata` (see `test_create_with_an_artifact`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.nexus.conftest import Sdk
from tests.conformance.sdk_runner import SdkError
from tests.platforms.nexus.receiver import Receiver

DEFAULT_INSTANCES = {"instance_x1cpu-standard", "instance_t4-standard-1g", "instance_l4-standard-1g"}
COUNTERS = {
    "Gathered",
    "FailedGather",
    "Preprocessed",
    "FailedProcess",
    "Predicted",
    "FailedPredict",
    "Delivered",
    "FailedDeliver",
}


def make_dataset(sdk: Sdk, project: str, tmp_path: Path, items: list[dict[str, Any]]) -> str:
    """Upload `items` as a dataset with the SDK (`datasets.create` PUTs the file to the emulator's signed URL)."""
    path = tmp_path / f"dataset-{len(items)}.ndjson"
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    created = sdk.run(project, f"result = project.batch.datasets.create('cells', {str(path)!r})")
    ready = sdk.run(project, f"result = project.batch.datasets.wait_until_done({created['id']!r}, interval=1)")
    assert ready["status"]["overview"] == "Uploaded" and ready["status"]["itemCount"] == len(items)
    return str(created["id"])


def make_webhook(sdk: Sdk, project: str, endpoint: str) -> str:
    webhook = sdk.run(project, f"result = project.batch.webhooks.create('results', {{'endpoint': {endpoint!r}}})")
    return str(webhook["id"])


def cells(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"url": f"https://my-endpoint.url/blood_cell/{i}.jpg", **extra} for i in range(n)]


def create_job(sdk: Sdk, project: str, dataset_id: str, webhook_id: str, name: str = "job_name") -> dict[str, Any]:
    """The guide's "Create a new batch job with an existing deployment"."""
    now = int(time.time() * 1000)
    return dict(
        sdk.run(
            project,
            f"""
result = project.batch.jobs.create(
    {name!r},
    {{
        "dataset_id": {dataset_id!r},
        "webhook_id": {webhook_id!r},
        "deployment_id": "deploy_nx_predict",
        "start_at_time": {now},
        "stop_at_time": {now + 3_600_000},
    }}
)
""",
        )
    )


def wait_until_done(sdk: Sdk, project: str, job_id: str) -> dict[str, Any]:
    """The guide's `wait_until_done`, polling every second instead of every eight."""
    return dict(sdk.run(project, f"result = project.batch.jobs.wait_until_done({job_id!r}, interval=1)"))


@pytest.fixture
def dataset(sdk: Sdk, project: str, tmp_path: Path) -> str:
    return make_dataset(sdk, project, tmp_path, cells(5))


@pytest.fixture
def webhook(sdk: Sdk, project: str, nexus_receiver: Receiver) -> str:
    return make_webhook(sdk, project, nexus_receiver.endpoint(project))


# -- create ---------------------------------------------------------------------------------------------------------


def test_create_with_an_artifact(sdk: Sdk, project: str, dataset: str, webhook: str, nexus_receiver: Receiver) -> None:
    # As printed, the guide's example leaves out `deployment_metadata`, and SDK 1.12.2 then fails before sending
    # anything (`None.pop`); with it and no `instance_id`, the SDK asks for the artifact's available instances and
    # picks a default one.
    now = int(time.time() * 1000)
    job = sdk.run(
        project,
        f"""
result = project.batch.jobs.create(
    "job_name",
    {{
        "dataset_id": {dataset!r},
        "webhook_id": {webhook!r},
        "artifact_id": "artifact_nx_predict",
        "deployment_metadata": {{"name": "ephemeral"}},
        "start_at_time": {now},
        "stop_at_time": {now + 3_600_000},
    }}
)
""",
    )
    assert job["id"].startswith("batchjob_") and job["object"] == "batch_job" and job["name"] == "job_name"
    deployment = job["spec"]["deployment"]
    assert deployment["kind"] == "NewEphemeralDeployment"
    assert deployment["template"]["artifactId"] == "artifact_nx_predict"
    assert deployment["template"]["instanceId"] in DEFAULT_INSTANCES
    assert job["spec"]["datasetId"] == dataset
    assert job["spec"]["resultDelivery"]["destinations"] == [{"kind": "Webhook", "webhookId": webhook}]
    assert (job["spec"]["startAtTime"], job["spec"]["stopAtTime"]) == (now, now + 3_600_000)
    assert job["status"]["overview"] == "Waiting" and set(job["status"]["items"]) == COUNTERS
    done = wait_until_done(sdk, project, job["id"])
    assert done["status"]["items"]["Delivered"] == 5
    assert sorted(nexus_receiver.items(project)) == sorted(c["url"] for c in cells(5))


def test_the_guides_artifact_example_as_printed_fails_inside_the_sdk(sdk: Sdk, project: str, dataset: str) -> None:
    with pytest.raises(SdkError) as raised:
        sdk.run(
            project,
            f"""
result = project.batch.jobs.create(
    "job_name",
    {{"dataset_id": {dataset!r}, "webhook_id": "webhook_x", "artifact_id": "artifact_nx_predict"}}
)
""",
        )
    assert raised.value.type == "AttributeError"
    assert sdk.run(project, "result = project.batch.jobs.list()")["data"] == []  # nothing reached the emulator


def test_create_with_an_existing_deployment(sdk: Sdk, project: str, dataset: str, webhook: str) -> None:
    job = create_job(sdk, project, dataset, webhook)
    assert job["spec"]["deployment"] == {"kind": "ExistingDeployment", "deploymentId": "deploy_nx_predict"}
    assert job["projectId"] == f"proj_{project}"
    assert isinstance(job["createDate"], int) and isinstance(job["status"]["updateDate"], int)


def test_create_with_an_unknown_deployment_is_not_found(sdk: Sdk, project: str, dataset: str, webhook: str) -> None:
    with pytest.raises(SdkError) as raised:
        sdk.run(
            project,
            f"result = project.batch.jobs.create('j', {{'dataset_id': {dataset!r}, 'webhook_id': {webhook!r}, "
            "'deployment_id': 'deploy_3286bd71-9a8b-42bb-8ba6-c07549b81367'})",
        )
    assert raised.value.type == "NotFoundError"
    assert "deploy_3286bd71" in raised.value.message and "deploy_nx_predict" in raised.value.message


# -- list -----------------------------------------------------------------------------------------------------------


def test_list_pages(sdk: Sdk, project: str, dataset: str, webhook: str) -> None:
    made = [create_job(sdk, project, dataset, webhook, name=f"job-{n}")["id"] for n in range(5)]
    newest_first = made[::-1]

    everything = sdk.run(project, "result = project.batch.jobs.list()")  # "Default listing of batch jobs"
    assert [j["id"] for j in everything["data"]] == newest_first
    assert everything["nextPage"] is None and everything["prevPage"] is None

    first = sdk.run(project, "result = project.batch.jobs.list({'limit': 2})")
    assert [j["id"] for j in first["data"]] == newest_first[:2]

    # "View the next page of results"
    rest = sdk.run(
        project,
        """
next_page = project.batch.jobs.list({"limit": 2})["next_page"]
result = project.batch.jobs.list({"page": next_page})
""",
    )
    assert [j["id"] for j in rest["data"]] == newest_first[2:]

    # "List a specific page of jobs that returns 2 jobs on that page"
    second = sdk.run(project, f"result = project.batch.jobs.list({{'limit': 2, 'page': {first['nextPage']!r}}})")
    assert [j["id"] for j in second["data"]] == newest_first[2:4]
    assert second["nextPage"] and second["prevPage"]

    # "View the previous page of results"
    back = sdk.run(
        project,
        f"""
prev_page = project.batch.jobs.list({{"page": {second["nextPage"]!r}}})["prev_page"]
result = project.batch.jobs.list({{"page": prev_page}})
""",
    )
    assert [j["id"] for j in back["data"]] == newest_first[:4]


# -- get, cancel, delete --------------------------------------------------------------------------------------------


def test_get(sdk: Sdk, project: str, dataset: str, webhook: str) -> None:
    job = create_job(sdk, project, dataset, webhook)
    got = sdk.run(project, f"result = project.batch.jobs.get({job['id']!r})")
    assert (got["id"], got["name"], got["spec"]) == (job["id"], job["name"], job["spec"])
    assert got["status"]["overview"] in ("Waiting", "Reached") and set(got["status"]["items"]) == COUNTERS


def test_get_an_unknown_job_is_not_found(sdk: Sdk, project: str) -> None:
    with pytest.raises(SdkError) as raised:
        sdk.run(project, "result = project.batch.jobs.get('batchjob_4e5566d0-6538-441a-9fa5-f3495516646a')")
    assert raised.value.type == "NotFoundError" and "Batch job not found" in raised.value.message


def test_cancel(sdk: Sdk, project: str, tmp_path: Path, webhook: str) -> None:
    slow = make_dataset(sdk, project, tmp_path, cells(20, sleep=1))
    job = create_job(sdk, project, slow, webhook)
    cancelled = sdk.run(project, f"result = project.batch.jobs.cancel({job['id']!r})")
    status = cancelled["status"]
    assert status["overview"] == "Failed" and status["message"] == "Batch job cancelled"
    assert "requested cancellation" in status["reason"] and isinstance(status["cancelledAt"], int)
    assert cancelled["spec"]["stopAtTime"] <= status["cancelledAt"]
    # Datature's waiter gives up on a failed job instead of polling until its timeout
    with pytest.raises(SdkError) as raised:
        wait_until_done(sdk, project, job["id"])
    assert raised.value.type == "BadRequestError" and job["id"] in raised.value.message


def test_delete(sdk: Sdk, project: str, dataset: str, webhook: str) -> None:
    job = create_job(sdk, project, dataset, webhook)
    assert sdk.run(project, f"result = project.batch.jobs.delete({job['id']!r})") == {"id": job["id"], "deleted": True}
    with pytest.raises(SdkError) as raised:
        sdk.run(project, f"result = project.batch.jobs.get({job['id']!r})")
    assert raised.value.type == "NotFoundError"


# -- wait and logs --------------------------------------------------------------------------------------------------


def test_wait_until_done_counts_failed_items_and_deliveries(
    sdk: Sdk, project: str, tmp_path: Path, nexus_receiver: Receiver
) -> None:
    items = [*cells(6), {"url": "https://my-endpoint.url/broken.jpg", "fail": True}]
    dataset = make_dataset(sdk, project, tmp_path, items)
    webhook = make_webhook(sdk, project, nexus_receiver.endpoint(project))
    job = create_job(sdk, project, dataset, webhook)
    done = wait_until_done(sdk, project, job["id"])
    counts = done["status"]["items"]
    assert (counts["Gathered"], counts["Predicted"], counts["FailedPredict"]) == (7, 6, 1)
    assert (counts["Delivered"], counts["FailedDeliver"]) == (6, 1)
    assert done["status"]["overview"] == "Reached" and done["status"]["message"] == "Finished"
    assert sorted(nexus_receiver.items(project)) == sorted(c["url"] for c in cells(6))


def test_get_logs(sdk: Sdk, project: str, tmp_path: Path, webhook: str) -> None:
    dataset = make_dataset(sdk, project, tmp_path, cells(30))
    job = create_job(sdk, project, dataset, webhook)
    wait_until_done(sdk, project, job["id"])

    # "Get all logs from a specified batch job"
    logs = sdk.run(project, f"result = project.batch.jobs.get_logs({job['id']!r})")
    entries = logs["entries"]
    assert logs["object"] == "batch_job_log" and logs["projectId"] == f"proj_{project}"
    assert len(entries) == 60  # each item was predicted, then delivered
    times = [e["createTime"] for e in entries]
    assert times == sorted(times, reverse=True)
    kinds = {(e["kind"], e["status"]) for e in entries}
    assert kinds == {("ItemProcessed", "Succeeded"), ("ItemDelivered", "Delivered")}
    assert {e["item"] for e in entries} == {c["url"] for c in cells(30)}

    # "Get all logs after a specified time"
    middle = times[len(times) // 2]
    after = sdk.run(project, f"result = project.batch.jobs.get_logs({job['id']!r}, {{'after_time': {middle}}})")
    assert [e["id"] for e in after["entries"]] == [e["id"] for e in entries if e["createTime"] >= middle]

    # "Get the last log entry"
    last = sdk.run(project, f"result = project.batch.jobs.get_logs({job['id']!r}, {{'max_entries': 1}})")
    assert last["entries"] == entries[:1]


def test_get_all_log_entries_of_a_job_with_more_than_1000(sdk: Sdk, project: str, tmp_path: Path, webhook: str) -> None:
    dataset = make_dataset(sdk, project, tmp_path, cells(700))
    job = create_job(sdk, project, dataset, webhook)
    wait_until_done(sdk, project, job["id"])
    # "Get all logs from a specified batch job and count the total number of logs"
    everything = sdk.run(
        project,
        f"""
def entries():
    count = 0
    for entry in project.batch.jobs.get_all_log_entries({job["id"]!r}):
        count += 1
        yield entry
    print(f"Total Log Count: {{count}}")
result = entries()
""",
    )
    assert len(everything) == 1400
    assert len({e["id"] for e in everything}) == 1400
    times = [e["createTime"] for e in everything]
    assert times == sorted(times, reverse=True)
