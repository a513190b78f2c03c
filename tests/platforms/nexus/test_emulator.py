"""jobnode's Nexus backend and raw HTTP against the real emulator (`jobnode serve --platform nexus`) on 127.0.0.1:
the whole life of a job, each state, errors (404, 429 with Retry-After, 5xx retried), and pagination to the end."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import jobnode
from jobnode.core.backend import ListQuery
from jobnode.core.errors import Conflict, NotFound
from jobnode.core.models import ArtifactsInput, DelimitedInput, ItemsInput, JobSpec, JobState, Webhook
from jobnode.core.transport import HeaderAuth, Transport
from jobnode.platforms.nexus.backend import NEXUS_RETRY, NexusBackend, parse_nexus_error
from jobnode.service.delivery import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from jobnode.service.process import ServiceProcess
from tests.platforms.nexus.receiver import Receiver
from tests.platforms.nexus.steps import NEXUS_STEPS


def cells(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"url": f"https://cells.test/{i}.jpg", **extra} for i in range(n)]


def spec(items: list[Any] | None = None, **fields: Any) -> JobSpec:
    fields.setdefault("input", ItemsInput(items=items or cells(3)))
    return JobSpec(**{"name": "job", "step": "nx_predict", **fields})


async def wait(backend: NexusBackend, job_id: str, timeout: float = 60) -> jobnode.Job:
    return await jobnode.AsyncClient(backend=backend).jobs.wait(job_id, timeout=timeout, poll_interval=0.2)


async def until(backend: NexusBackend, job_id: str, state: JobState, timeout: float = 30) -> jobnode.Job:
    deadline = time.monotonic() + timeout
    while True:
        job = await backend.get_job(job_id)
        if job.state is state or time.monotonic() > deadline:
            return job
        await asyncio.sleep(0.1)


@pytest.fixture
async def http(nexus_service: ServiceProcess, project_id: str) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP to the emulator, authenticated as the SDK is."""
    assert nexus_service.token
    async with httpx.AsyncClient(
        base_url=f"{nexus_service.url}/projects/{project_id}/batch", headers={"Secret-Key": nexus_service.token}
    ) as client:
        yield client


# -- a job's life ---------------------------------------------------------------------------------------------------


def test_a_job_from_start_to_end_through_the_client(
    nexus_service: ServiceProcess, project_id: str, nexus_receiver: Receiver
) -> None:
    items = [*cells(29), {"url": "https://cells.test/broken.jpg", "fail": True}]
    with jobnode.Client(nexus_service.url, nexus_service.token, platform="nexus", project_id=project_id) as client:
        job = client.jobs.create(
            name="cells",
            step="nx_predict",
            items=items,
            webhook=Webhook(url=nexus_receiver.endpoint(project_id), secret="s3cret", max_attempts=2),
        )
        assert job.platform == "nexus" and job.id.startswith("batchjob_")
        assert job.state in (JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED)
        done = client.jobs.wait(job.id, timeout=60, poll_interval=0.2)
        assert (done.state, done.raw_state, done.message) == (JobState.SUCCEEDED, "Reached", "Finished")
        p = done.progress
        assert (p.items_total, p.items_gathered, p.items_processed, p.items_failed) == (30, 30, 29, 1)
        assert (p.items_delivered, p.items_failed_delivery) == (29, 1)
        assert done.inputs[0].id.startswith("dataset_") and done.url == client.job_url(job.id)
        assert client.artifacts.get(done.inputs[0].id).records == 30

        # the webhook got every result that could be delivered, signed with the webhook's secret
        assert sorted(nexus_receiver.items(project_id)) == sorted(c["url"] for c in cells(29))
        body = json.dumps(nexus_receiver.deliveries[project_id][0], separators=(",", ":"), ensure_ascii=False).encode()
        headers = nexus_receiver.headers[project_id][0]
        assert verify_signature(
            base64.b64encode(b"s3cret").decode(),
            body,
            timestamp=headers[TIMESTAMP_HEADER],
            signature=headers[SIGNATURE_HEADER],
        )

        newest_first = list(client.jobs.iter_logs(job.id, order="desc"))
        oldest_first = list(client.jobs.iter_logs(job.id))
        assert [e.id for e in oldest_first] == [e.id for e in reversed(newest_first)]
        kinds = sorted(e.kind for e in oldest_first)
        assert kinds == ["ItemDelivered"] * 29 + ["ItemFailed"] + ["ItemProcessed"] * 29
        errors = client.jobs.errors(job.id)
        assert [(e.item, e.message) for e in errors] == [
            ("https://cells.test/broken.jpg", "cannot predict https://cells.test/broken.jpg")
        ]
        assert client.jobs.result(job.id).progress == p

        plan = client.jobs.delete(job.id)
        assert plan.allowed and [s.id for s in plan.steps] == [job.id]
        with pytest.raises(NotFound, match="Batch job not found"):
            client.jobs.get(job.id)


def test_a_job_written_for_the_local_service_runs_on_the_emulator(
    nexus_service: ServiceProcess, project_id: str
) -> None:
    """Only the client's platform options change: the step name is served as deploy_<step>, the items become a
    dataset, the engine-only fields are not sent, and with no webhook the results count as delivered."""
    reviews = ["I love it, great", "awful and broken", "a blue box"] * 4
    with jobnode.Client(nexus_service.url, nexus_service.token, platform="nexus", project_id=project_id) as client:
        job = client.jobs.create(
            name="score-reviews",
            step="sentiment",
            items=reviews,
            batch_size=4,
            workers=2,
            timeout=300,
            tags=["example"],
            idempotency_key="score-reviews-1",
        )
        assert job.step == "deploy_sentiment"
        done = client.jobs.wait(job.id, timeout=120, poll_interval=0.2)
        assert (done.state, done.progress.items_processed, done.progress.items_delivered) == (
            JobState.SUCCEEDED,
            12,
            12,
        )
        assert sum(1 for e in client.jobs.iter_logs(job.id) if e.kind == "ItemProcessed") == 12
        assert client.jobs.delete(job.id).allowed


async def test_scheduled_then_cancelled(nexus: NexusBackend) -> None:
    start = datetime.now(UTC) + timedelta(hours=1)
    job = await nexus.create_job(spec(start_at=start, stop_at=start + timedelta(hours=1)))
    assert (job.state, job.raw_state, job.progress.items_gathered) == (JobState.SCHEDULED, "Waiting", 0)
    cancelled = await nexus.cancel_job(job.id)
    assert (cancelled.state, cancelled.raw_state) == (JobState.CANCELLED, "Failed")
    assert cancelled.reason and "requested cancellation" in cancelled.reason
    assert cancelled.ended_at is not None
    again = await nexus.cancel_job(job.id)  # a finished job is unchanged
    assert again.state is JobState.CANCELLED and again.ended_at == cancelled.ended_at


async def test_running_then_cancelled(nexus: NexusBackend) -> None:
    job = await nexus.create_job(spec(cells(10, sleep=2)))
    running = await until(nexus, job.id, JobState.RUNNING)
    assert running.state is JobState.RUNNING and running.raw_state == "Waiting"
    with pytest.raises(Conflict, match="cancel it"):
        await nexus.delete_job(job.id)  # the lineage rule, enforced by jobnode: a running job is not deleted
    await nexus.cancel_job(job.id)
    assert (await wait(nexus, job.id)).state is JobState.CANCELLED


async def test_stop_time_passing_times_the_job_out(nexus: NexusBackend) -> None:
    job = await nexus.create_job(spec(cells(10, sleep=2), stop_at=datetime.now(UTC) + timedelta(seconds=1)))
    done = await wait(nexus, job.id)
    assert (done.state, done.raw_state) == (JobState.TIMED_OUT, "Failed")
    assert done.reason == "BatchJob not completed before defined stop time"


async def test_a_job_that_delivers_nothing_failed(
    nexus: NexusBackend, nexus_receiver: Receiver, project_id: str
) -> None:
    failing = await nexus.create_job(spec(cells(4, fail=True)))
    done = await wait(nexus, failing.id)
    assert (done.state, done.raw_state, done.progress.items_failed) == (JobState.FAILED, "Failed", 4)
    refused = await nexus.create_job(
        spec(webhook=Webhook(url=nexus_receiver.endpoint(project_id, fail=True), max_attempts=1))
    )
    done = await wait(nexus, refused.id)
    assert (done.state, done.progress.items_processed, done.progress.items_failed_delivery) == (JobState.FAILED, 3, 3)
    assert "ItemDeliveryFailed" in {e.kind async for e in jobnode.AsyncClient(backend=nexus).jobs.iter_logs(refused.id)}


async def test_an_artifact_job_and_a_delimited_file(nexus: NexusBackend, tmp_path: Path) -> None:
    path = tmp_path / "cells.ndjson"
    path.write_text("".join(json.dumps(c) + "\n" for c in cells(5)))
    job = await nexus.create_job(
        spec(
            step="artifact_nx_predict",
            params={"instance_id": "instance_t4-standard-1g"},
            input=DelimitedInput(paths=[str(path)]),
        )
    )
    assert job.raw is not None and job.raw["spec"]["deployment"]["template"]["instanceId"] == "instance_t4-standard-1g"
    assert (await wait(nexus, job.id)).progress.items_delivered == 5


async def test_a_dataset_runs_many_jobs_and_lists_page_to_the_end(nexus: NexusBackend) -> None:
    dataset = await nexus.upload_dataset("shared", b'{"url": "a"}\n\n{"url": "b"}\n')
    assert dataset.status.item_count == 2
    made = [
        (await nexus.create_job(spec(name=f"j{n}", input=ArtifactsInput(artifacts=[dataset.id])))).id for n in range(7)
    ]
    pages, cursor = [], None
    while True:
        page = await nexus.list_jobs(ListQuery(limit=3, cursor=cursor))
        pages.append([j.id for j in page.data])
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert pages == [made[::-1][:3], made[::-1][3:6], made[::-1][6:]]
    back = await nexus.list_jobs(ListQuery(limit=3, cursor=page.prev_cursor))
    assert [j.id for j in back.data] == made[::-1][3:6]
    assert (await nexus.list_jobs(ListQuery(limit=3, cursor=back.prev_cursor))).prev_cursor is None


async def test_datasets_are_artifacts(nexus: NexusBackend) -> None:
    dataset = await nexus.upload_dataset("gone", b"1\n2\n3\n")
    assert (await nexus.get_artifact(dataset.id)).records == 3
    await nexus.delete_artifact(dataset.id)
    with pytest.raises(NotFound):
        await nexus.get_artifact(dataset.id)


# -- the wire, raw --------------------------------------------------------------------------------------------------


async def test_errors_are_a_message_with_the_right_status(
    http: httpx.AsyncClient, nexus_service: ServiceProcess
) -> None:
    missing = await http.get("/jobs/batchjob_nope")
    assert missing.status_code == 404 and missing.json()["message"].startswith("Batch job not found")
    no_dataset = await http.post(
        "/jobs", json={"name": "x", "spec": {"deployment": {"kind": "ExistingDeployment", "deploymentId": "deploy_1"}}}
    )
    assert no_dataset.status_code == 400 and "spec.datasetId" in no_dataset.json()["message"]
    no_kind = await http.post("/jobs", json={"name": "x", "spec": {"deployment": {"deploymentId": "deploy_1"}}})
    assert no_kind.status_code == 400 and "spec.deployment" in no_kind.json()["message"]
    bad_level = await http.get("/jobs/batchjob_nope/logs?minLevel=Loud")
    assert bad_level.status_code == 404  # the job is looked up first
    bad_page = await http.get("/jobs?page=nonsense")
    assert bad_page.status_code == 400 and bad_page.json()["message"].startswith("page:")
    webhook = await http.post("/webhooks", json={"name": "w", "spec": {"endpoint": "ftp://x"}})
    assert webhook.status_code == 400 and "spec.endpoint" in webhook.json()["message"]
    wrong_key = await http.get("/jobs", headers={"Secret-Key": "guess"})
    assert wrong_key.status_code == 403 and "Secret-Key" in wrong_key.json()["message"]
    elsewhere = await http.get(f"{nexus_service.url}/v1/jobs")
    assert elsewhere.status_code == 404 and "message" in elsewhere.json()


async def test_the_sdks_query_strings_and_bodies(http: httpx.AsyncClient, nexus: NexusBackend) -> None:
    dataset = await nexus.upload_dataset("d", b'{"url": "a"}\n')
    job = await nexus.create_job(spec(input=ArtifactsInput(artifacts=[dataset.id])))
    # a trailing "&" and unencoded values, as the SDK builds them; Content-Type: application/json on a GET
    listing = await http.get("/jobs?limit=1&", headers={"Content-Type": "application/json"})
    assert [j["id"] for j in listing.json()["data"]] == [job.id]
    logs = await http.get(f"/jobs/{job.id}/logs?minLevel=Info&maxEntries=1&")
    assert logs.status_code == 200 and set(logs.json()) == {"id", "object", "projectId", "entries"}
    future = await http.patch(f"/jobs/{job.id}", json={"spec": {"stopAtTime": int(time.time() * 1000) + 60_000}})
    assert future.status_code == 400 and "stopAtTime" in future.json()["message"]
    window = await http.post(
        "/jobs",
        json={
            "name": "w",
            "spec": {
                "datasetId": dataset.id,
                "startAtTime": 2000,
                "stopAtTime": 1000,
                "deployment": {"kind": "ExistingDeployment", "deploymentId": "deploy_nx_predict"},
            },
        },
    )
    assert window.status_code == 400 and window.json()["message"].startswith("spec.stopAtTime")
    rename = await http.patch(f"/jobs/{job.id}", json={"spec": {"stopAtTime": 1, "name": "x"}})
    assert rename.status_code == 400 and "spec.name" in rename.json()["message"]
    # deleting a job that may still run cancels it first, as Nexus does; the answer is JSON, not a 204
    deleted = await http.delete(f"/jobs/{job.id}")
    assert deleted.status_code == 200 and deleted.json() == {"id": job.id, "deleted": True}


async def test_uploads_are_checked(http: httpx.AsyncClient) -> None:
    content = b'{"url": "a"}\n'
    created = await http.post(
        "/datasets",
        json={
            "name": "d",
            "spec": {
                "source": {"kind": "UploadedNewlineDelimitedJsonFile", "sizeBytes": len(content), "crc32c": "AAAAAA=="}
            },
        },
    )
    upload = created.json()["status"]["source"]["uploadUrl"]
    async with httpx.AsyncClient() as anonymous:
        forged = await anonymous.put(upload["url"].replace("signature=", "signature=0"), content=content)
        assert forged.status_code == 403
        wrong = await anonymous.put(upload["url"], content=content, headers=upload["headers"])
        assert wrong.status_code == 400
    dataset = (await http.get(f"/datasets/{created.json()['id']}")).json()
    assert dataset["status"]["overview"] == "FailedUpload" and "crc32c" in dataset["status"]["message"]


# -- retries against the real service -------------------------------------------------------------------------------


async def test_429_with_retry_after_is_waited_out(tmp_path: Path) -> None:
    token = secrets.token_hex(8)
    with ServiceProcess(
        tmp_path / "limited",
        steps=[NEXUS_STEPS],
        token=token,
        extra_args=["--platform", "nexus"],
        env={"JOBNODE_NEXUS_RATE_LIMIT": "2"},
    ) as service:
        async with httpx.AsyncClient(base_url=service.url, headers={"Secret-Key": token}) as raw:
            answers = [await raw.get("/projects/proj_x/batch/jobs") for _ in range(4)]
        limited = [a for a in answers if a.status_code == 429]
        assert limited and int(limited[0].headers["Retry-After"]) >= 1
        assert limited[0].json()["message"].startswith("Too many requests")

        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)
            await asyncio.sleep(seconds)

        transport = Transport(
            service.url,
            auth=HeaderAuth("Secret-Key", token),
            retry=NEXUS_RETRY,
            platform="nexus",
            error_parser=parse_nexus_error,
            sleep=sleep,
        )
        backend = NexusBackend(service.url, project_id="proj_x", transport=transport)
        pages = [await backend.list_jobs(ListQuery()) for _ in range(6)]
        await backend.aclose()
    assert all(p.data == [] for p in pages)
    assert slept and min(slept) >= 1.0  # each wait lasted at least the Retry-After the service asked for


class FlakyTransport(httpx.AsyncBaseTransport):
    """Answers 503 to the first `failures` requests, then passes every request to the real service."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.served: list[int] = []
        self._real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if len(self.served) < self.failures:
            self.served.append(503)
            return httpx.Response(503, json={"message": "Service Unavailable"})
        response = await self._real.handle_async_request(request)
        self.served.append(response.status_code)
        return response

    async def aclose(self) -> None:
        await self._real.aclose()


async def test_5xx_are_retried_against_the_real_service(nexus_service: ServiceProcess, nexus: NexusBackend) -> None:
    dataset = await nexus.upload_dataset("d", b'{"url": "a"}\n')
    job = await nexus.create_job(spec(input=ArtifactsInput(artifacts=[dataset.id])))
    flaky = FlakyTransport(failures=2)
    assert nexus_service.token
    http = httpx.AsyncClient(
        base_url=nexus_service.url, auth=HeaderAuth("Secret-Key", nexus_service.token), transport=flaky
    )
    backend = NexusBackend(
        nexus_service.url,
        project_id=nexus.project_id,
        transport=Transport(
            nexus_service.url, http=http, retry=NEXUS_RETRY, platform="nexus", error_parser=parse_nexus_error
        ),
    )
    got = await backend.get_job(job.id)
    await http.aclose()
    assert got.id == job.id
    assert flaky.served[:3] == [503, 503, 200]


# -- the service ----------------------------------------------------------------------------------------------------


async def test_records_survive_a_restart(tmp_path: Path) -> None:
    token = secrets.token_hex(8)
    service = ServiceProcess(
        tmp_path / "restarted", steps=[NEXUS_STEPS], token=token, extra_args=["--platform", "nexus"]
    ).start()
    try:
        backend = NexusBackend(service.url, token=token, project_id="proj_r")
        dataset = await backend.upload_dataset("d", b'{"url": "a"}\n{"url": "b"}\n')
        job = await backend.create_job(spec(input=ArtifactsInput(artifacts=[dataset.id])))
        before = await wait(backend, job.id)
        await backend.aclose()
        service.restart()
        backend = NexusBackend(service.url, token=token, project_id="proj_r")
        after = await backend.get_job(job.id)
        assert (after.state, after.progress, after.raw) == (before.state, before.progress, before.raw)
        assert (await backend.get_dataset(dataset.id)).status.item_count == 2
        assert [j.id for j in (await backend.list_jobs(ListQuery())).data] == [job.id]
        await backend.aclose()
    finally:
        service.stop()


def test_an_unknown_platform_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jobnode.cli import main

    assert main(["serve", "--platform", "nucleus-typo", "--data-dir", str(tmp_path), "--port", "0"]) == 2
    error = capsys.readouterr().err
    assert "'nucleus-typo'" in error and "nexus" in error
