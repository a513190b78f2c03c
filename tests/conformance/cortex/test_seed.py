"""Every request and response of the seed (Cortex's "Jobs" page, 0.28), verbatim, against the emulator over plain
HTTP, as a Cortex user sends them: Cortex's Python package only drives a Go CLI that cannot be installed here, and
a Batch API's endpoint is plain HTTP.

The seed's S3 examples run against a real S3-compatible server (moto, started by the tests) holding the seed's
folder `s3://bucket/images/img_{1.png,2.jpg,3.jpg,4.gif}`. The Batch API is `image-classifier`; the seed's
placeholders (`<int>`, `<string>`) get concrete values, and its comments are left out of the bodies. When the
service has a token the requests carry it as a bearer token (Cortex's own endpoints take none).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from jobnode.service.process import ServiceProcess
from tests.platforms.cortex.servers import S3

API = "image-classifier"
ARN = "arn:aws:sqs:us-west-2:123456789:failed.fifo"
IMAGES = "s3://bucket/images/"

#: the RESPONSE of each "Submit a Job" example: its fields and their types (`<int>`, `<string>`, objects)
SUBMIT_RESPONSE: dict[str, type | tuple[type, ...]] = {
    "job_id": str,
    "api_name": str,
    "kind": str,
    "workers": int,
    "config": dict,
    "api_id": str,
    "sqs_url": str,
    "timeout": (int, type(None)),  # null when the submission has none ("optional")
    "sqs_dead_letter_queue": (dict, type(None)),
    "created_time": str,
}
#: the RESPONSE of "Get a job's status" (`worker_counts` while the job runs, `end_time` once it has ended)
JOB_STATUS: dict[str, type | tuple[type, ...]] = {
    "job_id": str,
    "api_name": str,
    "kind": str,
    "workers": int,
    "config": dict,
    "api_id": str,
    "sqs_url": str,
    "status": str,
    "batches_in_queue": int,
    "batch_metrics": dict,
    "worker_counts": (dict, type(None)),
    "created_time": str,
    "start_time": str,
    "end_time": (str, type(None)),
}
WORKER_COUNTS = {"pending", "initializing", "running", "succeeded", "failed", "stalled"}


@pytest.fixture
def http(cortex_service: ServiceProcess) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {cortex_service.token}"}
    with httpx.Client(base_url=cortex_service.url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def dest(cortex_s3: S3) -> str:
    """An S3 directory for this test's results (the `config` of the seed's examples is free-form)."""
    return f"s3://results/seed-{uuid.uuid4().hex}"


def check_shape(body: dict[str, Any], shape: dict[str, type | tuple[type, ...]]) -> None:
    for key, kind in shape.items():
        assert key in body, f"the answer has no {key!r}: {body}"
        assert isinstance(body[key], kind), f"{key}={body[key]!r} is not {kind}"


def wait(http: httpx.Client, job_id: str, endpoint: str = f"/{API}") -> dict[str, Any]:
    """Poll `GET <batch_api_endpoint>?jobID=` until the job has ended, as a Cortex user does."""
    deadline = time.monotonic() + 60
    while True:
        response = http.get(endpoint, params={"jobID": job_id})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["job_status"]["status"] not in ("status_enqueuing", "status_running") or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def results(cortex_s3: S3, dest: str, job_id: str) -> list[str]:
    """The image paths a job classified, from the results it wrote to `<dest_s3_dir>/<job_id>/`."""
    import json

    text = cortex_s3.fs.cat(f"{dest.removeprefix('s3://')}/{job_id}/results.jsonl").decode()
    return [json.loads(line)["url"] for line in text.splitlines()]


# -- Submit a Job ---------------------------------------------------------------------------------------------------


def test_data_in_the_request(http: httpx.Client, dest: str) -> None:
    request = {
        "workers": 2,
        "timeout": 3600,
        "sqs_dead_letter_queue": {"arn": ARN, "max_receive_count": 3},
        "item_list": {"items": ["s3://bucket/images/img_1.png", "s3://bucket/images/img_2.jpg"], "batch_size": 1},
        "config": {"dest_s3_dir": dest},
    }
    response = http.post(f"/{API}", json=request)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    check_shape(body, SUBMIT_RESPONSE)
    assert body["kind"] == "BatchAPI" and body["api_name"] == API
    assert (body["workers"], body["timeout"], body["config"]) == (2, 3600, {"dest_s3_dir": dest})
    assert body["sqs_dead_letter_queue"] == {"arn": ARN, "max_receive_count": 3}
    ended = wait(http, body["job_id"])["job_status"]
    assert ended["status"] == "status_succeeded"
    assert ended["batch_metrics"]["succeeded"] == 2


def test_s3_file_paths(http: httpx.Client, dest: str, cortex_s3: S3) -> None:
    request = {
        "workers": 1,
        "timeout": 600,
        "sqs_dead_letter_queue": {"arn": ARN, "max_receive_count": 1},
        "file_path_lister": {"s3_paths": [IMAGES], "includes": ["**.jpg"], "excludes": ["**_3.jpg"], "batch_size": 2},
        "config": {"dest_s3_dir": dest},
    }
    response = http.post(f"/{API}", json=request)
    assert response.status_code == 200
    body = response.json()
    check_shape(body, SUBMIT_RESPONSE)
    assert wait(http, body["job_id"])["job_status"]["status"] == "status_succeeded"
    assert results(cortex_s3, dest, body["job_id"]) == ["s3://bucket/images/img_2.jpg"]


def test_newline_delimited_json_files_in_s3(http: httpx.Client, dest: str, cortex_s3: S3) -> None:
    folder = f"bucket/samples-{uuid.uuid4().hex}"
    cortex_s3.fs.pipe(f"{folder}/part-0.json", b'"s3://bucket/images/img_1.png"\n"s3://bucket/images/img_2.jpg"\n')
    cortex_s3.fs.pipe(f"{folder}/part-1.json", b'"s3://bucket/images/img_3.jpg"\n')
    cortex_s3.fs.pipe(f"{folder}/notes.txt", b"not json\n")
    request = {
        "workers": 2,
        "timeout": 600,
        "sqs_dead_letter_queue": {"arn": ARN, "max_receive_count": 2},
        "delimited_files": {"s3_paths": [f"s3://{folder}/"], "includes": ["**.json"], "excludes": [], "batch_size": 2},
        "config": {"dest_s3_dir": dest},
    }
    response = http.post(f"/{API}", json=request)
    assert response.status_code == 200
    body = response.json()
    check_shape(body, SUBMIT_RESPONSE)
    ended = wait(http, body["job_id"])["job_status"]
    assert (ended["status"], ended["total_batch_count"]) == ("status_succeeded", 2)
    assert results(cortex_s3, dest, body["job_id"]) == [
        f"s3://bucket/images/img_{n}" for n in ("1.png", "2.jpg", "3.jpg")
    ]


# -- Get a job's status, Stop a job -----------------------------------------------------------------------------------


def test_get_a_job_s_status_and_stop_it(http: httpx.Client) -> None:
    request = {
        "workers": 2,
        "item_list": {"items": [f"s3://bucket/images/img_{i}.png" for i in range(4)], "batch_size": 1},
    }
    submitted = http.post("/test-api", json={**request, "item_list": {"items": [{"sleep": 30}] * 4, "batch_size": 1}})
    job_id = submitted.json()["job_id"]
    response = http.get("/test-api", params={"jobID": job_id})
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["job_status", "endpoint", "api_spec"]
    assert isinstance(body["endpoint"], str) and body["endpoint"].endswith(f"/test-api?jobID={job_id}")
    assert isinstance(body["api_spec"], dict) and body["api_spec"]["name"] == "test-api"
    status = body["job_status"]
    check_shape(status, JOB_STATUS)
    assert status["status"] in ("status_enqueuing", "status_running")
    assert set(status["batch_metrics"]) >= {"succeeded", "failed"}
    if status["status"] == "status_running":
        assert set(status["worker_counts"]) == WORKER_COUNTS

    stopped = http.delete("/test-api", params={"jobID": job_id})
    assert stopped.status_code == 200
    assert stopped.json() == {"message": f"stopped job {job_id}"}
    ended = http.get("/test-api", params={"jobID": job_id}).json()["job_status"]
    check_shape(ended, JOB_STATUS)
    assert ended["status"] == "status_stopped" and isinstance(ended["end_time"], str)
    assert ended["worker_counts"] is None  # "worker counts are only available while a job is running"


def test_the_status_of_a_running_job(http: httpx.Client) -> None:
    job_id = http.post(
        "/test-api", json={"workers": 1, "item_list": {"items": [{"sleep": 30}], "batch_size": 1}}
    ).json()["job_id"]
    try:
        deadline = time.monotonic() + 60
        status = http.get("/test-api", params={"jobID": job_id}).json()["job_status"]
        while status["status"] != "status_running" and time.monotonic() < deadline:
            time.sleep(0.02)
            status = http.get("/test-api", params={"jobID": job_id}).json()["job_status"]
        check_shape(status, JOB_STATUS)
        assert status["status"] == "status_running" and status["end_time"] is None
        assert set(status["worker_counts"]) == WORKER_COUNTS
        assert sum(status["worker_counts"].values()) == 1
        assert status["batches_in_queue"] == 1
    finally:
        http.delete("/test-api", params={"jobID": job_id})


def test_the_batch_metrics_of_a_job_that_ended(http: httpx.Client, dest: str) -> None:
    request = {"workers": 1, "item_list": {"items": [IMAGES + "img_1.png", IMAGES + "img_2.jpg"], "batch_size": 1}}
    job_id = http.post(f"/{API}", json=request).json()["job_id"]
    status = wait(http, job_id)["job_status"]
    check_shape(status, JOB_STATUS)
    metrics = status["batch_metrics"]
    assert (metrics["succeeded"], metrics["failed"]) == (2, 0)
    assert isinstance(metrics["avg_time_per_batch"], float)  # "(only considers successful attempts)"
    assert isinstance(status["end_time"], str) and status["batches_in_queue"] == 0


# -- Filtering files ------------------------------------------------------------------------------------------------

FILTERING = [
    ({"s3_paths": ["s3://bucket/images/"]}, ["img_1.png", "img_2.jpg", "img_3.jpg", "img_4.gif"]),
    ({"s3_paths": ["s3://bucket/images/img"]}, ["img_1.png", "img_2.jpg", "img_3.jpg", "img_4.gif"]),
    ({"s3_paths": ["s3://bucket/images/img_1.png", "s3://bucket/images/img_2.jpg"]}, ["img_1.png", "img_2.jpg"]),
    ({"s3_paths": ["s3://bucket/images/"], "includes": ["**.jpg"]}, ["img_2.jpg", "img_3.jpg"]),
    ({"s3_paths": ["s3://bucket/images/"], "includes": ["**.jpg"], "excludes": ["**_3.jpg"]}, ["img_2.jpg"]),
    ({"s3_paths": ["s3://bucket/images/"], "excludes": ["**.gif"]}, ["img_1.png", "img_2.jpg", "img_3.jpg"]),
]
FILTERING_IDS = ["select-all", "select-all-by-prefix", "specific-files", "only-jpg", "jpg-except-one", "all-but-gif"]


@pytest.mark.parametrize(("lister", "selected"), FILTERING, ids=FILTERING_IDS)
def test_filtering_files_dry_run(http: httpx.Client, lister: dict[str, list[str]], selected: list[str]) -> None:
    """ "specify the dryRun=true query parameter in the job submission request to see the target list"."""
    request = {"workers": 1, "file_path_lister": {**lister, "batch_size": 1}}
    response = http.post(f"/{API}", params={"dryRun": "true"}, json=request)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert response.text.split("\n") == [IMAGES + name for name in selected] + ["validations passed"]


@pytest.mark.parametrize(("lister", "selected"), FILTERING, ids=FILTERING_IDS)
def test_filtering_files_a_job_reads_exactly_those(
    http: httpx.Client, cortex_s3: S3, dest: str, lister: dict[str, list[str]], selected: list[str]
) -> None:
    request = {"workers": 1, "file_path_lister": {**lister, "batch_size": 2}, "config": {"dest_s3_dir": dest}}
    job_id = http.post(f"/{API}", json=request).json()["job_id"]
    assert wait(http, job_id)["job_status"]["status"] == "status_succeeded"
    assert results(cortex_s3, dest, job_id) == [IMAGES + name for name in selected]


def test_a_dry_run_of_data_in_the_request_only_validates(http: httpx.Client) -> None:
    request = {"workers": 1, "item_list": {"items": [1, 2], "batch_size": 1}}
    response = http.post(f"/{API}", params={"dryRun": "true"}, json=request)
    assert (response.status_code, response.text) == (200, "validations passed")


# -- the operator's route and `cortex get <batch_api_name>` ----------------------------------------------------------


def test_the_operator_route_answers_as_the_endpoint(http: httpx.Client) -> None:
    request = {"workers": 1, "item_list": {"items": [IMAGES + "img_1.png"], "batch_size": 1}}
    body = http.post(f"/batch/{API}", json=request).json()
    check_shape(body, SUBMIT_RESPONSE)
    ended = wait(http, body["job_id"], endpoint=f"/batch/{API}")
    assert ended["job_status"]["status"] == "status_succeeded"
    assert http.get(f"/{API}", params={"jobID": body["job_id"]}).json()["job_status"]["status"] == "status_succeeded"


def test_get_the_batch_api_endpoint(http: httpx.Client, cortex_service: ServiceProcess) -> None:
    """`cortex get <batch_api_name>` reads the operator's `GET /get/<api_name>`: the API's endpoint and jobs."""
    [entry] = http.get(f"/get/{API}").json()
    assert entry["endpoint"] == f"{cortex_service.url}/{API}"
    assert entry["spec"]["name"] == API and entry["spec"]["kind"] == "BatchAPI"
    for status in entry["batch_job_statuses"]:
        check_shape(status, JOB_STATUS)
