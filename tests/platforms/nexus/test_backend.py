"""`NexusBackend` against a scripted Nexus (httpx.MockTransport): errors, retries, uploads and log paging.

The same backend against the real emulator is in `test_emulator.py`; here are the cases a real server does not
produce on demand (a 503 then a 200, a Retry-After of seven seconds, 1,000 log entries in one millisecond).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import jobnode
from jobnode.core.backend import ListQuery, LogQuery
from jobnode.core.errors import (
    Conflict,
    JobnodeError,
    NotFound,
    ServerError,
    UnsupportedOperation,
)
from jobnode.core.models import ArtifactsInput, ItemsInput, JobSpec, JobState, Webhook
from jobnode.core.transport import HeaderAuth, Transport
from jobnode.platforms.nexus.backend import NEXUS_RETRY, NexusBackend, parse_nexus_error
from jobnode.platforms.nexus.checksum import crc32c_base64

URL = "https://nexus.test"
PROJECT = "proj_1"
KEY = "secret-key-123"
Handler = Callable[[httpx.Request], httpx.Response]


def job_body(
    job_id: str = "batchjob_1",
    *,
    overview: str = "Waiting",
    delivered: int = 0,
    create: int = 1000,
    dataset: str = "dataset_1",
) -> dict[str, Any]:
    return {
        "id": job_id,
        "object": "batch_job",
        "name": "j",
        "projectId": PROJECT,
        "spec": {
            "deployment": {"kind": "ExistingDeployment", "deploymentId": "deploy_1"},
            "resultDelivery": {"destinations": []},
            "datasetId": dataset,
        },
        "status": {"overview": overview, "message": "m", "updateDate": create, "items": {"Delivered": delivered}},
        "createDate": create,
        "updateDate": create,
    }


def dataset_body(dataset_id: str = "dataset_1", *, overview: str = "Uploaded", count: int = 2) -> dict[str, Any]:
    return {
        "id": dataset_id,
        "object": "batch_dataset",
        "name": "d",
        "projectId": PROJECT,
        "expiryTime": 9,
        "status": {
            "overview": overview,
            "message": "",
            "updateTime": 1,
            "itemCount": count,
            "source": {
                "kind": "UploadedNewlineDelimitedJsonFile",
                "uploadUrl": {
                    "method": "PUT",
                    "url": "https://storage.test/bucket/f?sig=a%2Fb",
                    "headers": {"Content-Type": "application/x-ndjson"},
                    "expiresAtTime": 9,
                },
            },
        },
        "createDate": 1,
        "updateDate": 1,
    }


class Scripted:
    """A backend whose HTTP goes to `handler`; requests and the backoff sleeps are recorded (and not slept)."""

    def __init__(self, handler: Handler) -> None:
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

        def record(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return handler(request)

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        mock = httpx.MockTransport(record)
        api = httpx.AsyncClient(base_url=URL, auth=HeaderAuth("Secret-Key", KEY), transport=mock)
        uploads = httpx.AsyncClient(transport=mock)
        self.backend = NexusBackend(
            URL,
            project_id=PROJECT,
            transport=Transport(
                URL, http=api, retry=NEXUS_RETRY, platform="nexus", error_parser=parse_nexus_error, sleep=sleep
            ),
            upload_transport=Transport("", http=uploads, retry=NEXUS_RETRY, platform="nexus", sleep=sleep),
        )

    def paths(self, method: str | None = None) -> list[str]:
        return [r.url.path for r in self.requests if method is None or r.method == method]


def routes(table: dict[tuple[str, str], Any]) -> Handler:
    """Answers by (method, path); a list answers in turn (its last item repeats), a callable is called."""

    def handle(request: httpx.Request) -> httpx.Response:
        answer = table[(request.method, request.url.path)]
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if callable(answer):
            answer = answer(request)
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    return handle


JOB_PATH = f"/projects/{PROJECT}/batch/jobs/batchjob_1"
DATASET_PATH = f"/projects/{PROJECT}/batch/datasets/dataset_1"


# -- errors and retries ---------------------------------------------------------------------------------------------


async def test_not_found_carries_nexus_message() -> None:
    s = Scripted(routes({("GET", JOB_PATH): httpx.Response(404, json={"message": "Batch job not found"})}))
    with pytest.raises(NotFound) as raised:
        await s.backend.get_job("batchjob_1")
    assert raised.value.message == "Batch job not found" and raised.value.platform == "nexus"
    assert raised.value.details == {"message": "Batch job not found"}
    assert s.requests[0].headers["Secret-Key"] == KEY
    assert KEY not in str(raised.value) and KEY not in repr(s.backend)


async def test_429_waits_as_long_as_retry_after_says() -> None:
    s = Scripted(
        routes(
            {
                ("GET", JOB_PATH): [
                    httpx.Response(429, headers={"Retry-After": "7"}, json={"message": "slow down"}),
                    job_body(),
                ],
                ("GET", DATASET_PATH): dataset_body(),
            }
        )
    )
    job = await s.backend.get_job("batchjob_1")
    assert job.state is JobState.QUEUED
    assert s.sleeps == [7.0]
    assert s.paths("GET").count(JOB_PATH) == 2


async def test_5xx_are_retried_with_backoff() -> None:
    s = Scripted(
        routes(
            {
                ("GET", JOB_PATH): [
                    httpx.Response(503),
                    httpx.Response(502, text="bad gateway"),
                    httpx.Response(520),
                    job_body(),
                ],
                ("GET", DATASET_PATH): dataset_body(),
            }
        )
    )
    await s.backend.get_job("batchjob_1")
    assert s.paths("GET").count(JOB_PATH) == 4 and len(s.sleeps) == 3
    assert s.sleeps[0] < s.sleeps[2]  # exponential


async def test_5xx_that_persist_end_in_server_error() -> None:
    s = Scripted(routes({("GET", JOB_PATH): httpx.Response(500, json={"message": "boom"})}))
    with pytest.raises(ServerError, match="boom"):
        await s.backend.get_job("batchjob_1")
    assert len(s.requests) == NEXUS_RETRY.max_attempts


async def test_creating_a_job_is_never_repeated() -> None:
    s = Scripted(routes({("POST", f"/projects/{PROJECT}/batch/jobs"): httpx.Response(503)}))
    with pytest.raises(ServerError):
        await s.backend.create_job(JobSpec(step="deploy_1", input=ArtifactsInput(artifacts=["dataset_1"])))
    assert s.paths("POST") == [f"/projects/{PROJECT}/batch/jobs"]  # Nexus has no idempotency keys


async def test_cancel_moves_the_stop_time_and_is_retried() -> None:
    s = Scripted(
        routes(
            {
                ("PATCH", JOB_PATH): [httpx.Response(503), job_body(overview="Failed") | {}],
                ("GET", DATASET_PATH): dataset_body(),
            }
        )
    )
    await s.backend.cancel_job("batchjob_1")
    patches = [r for r in s.requests if r.method == "PATCH"]
    assert len(patches) == 2
    assert set(json.loads(patches[0].content)["spec"]) == {"stopAtTime"}


# -- creating jobs --------------------------------------------------------------------------------------------------


async def test_items_are_uploaded_as_a_dataset_without_the_secret_key() -> None:
    uploads: list[httpx.Request] = []

    def upload(request: httpx.Request) -> httpx.Response:
        uploads.append(request)
        return httpx.Response(200)

    s = Scripted(
        routes(
            {
                ("POST", f"/projects/{PROJECT}/batch/datasets"): dataset_body(overview="Uploading", count=0),
                ("PUT", "/bucket/f"): upload,
                ("GET", DATASET_PATH): [dataset_body(overview="Uploading", count=0), dataset_body(count=2)],
                ("POST", f"/projects/{PROJECT}/batch/webhooks"): {
                    "id": "webhook_9",
                    "object": "batch_webhook",
                    "projectId": PROJECT,
                    "name": "n",
                    "endpoint": "https://hooks.test/h",
                    "retries": {"maxRetries": 2, "maxBackoffMs": 15000},
                    "createDate": 1,
                    "updateDate": 1,
                },
                ("POST", f"/projects/{PROJECT}/batch/jobs"): job_body(),
            }
        )
    )
    items = [{"url": "https://x/1.jpg"}, {"url": "https://x/2.jpg"}]
    job = await s.backend.create_job(
        JobSpec(
            name="n",
            step="deploy_1",
            input=ItemsInput(items=items),
            webhook=Webhook(url="https://hooks.test/h", secret="s3cret", max_attempts=3),
        )
    )
    assert job.progress.items_total == 2
    content = b'{"url":"https://x/1.jpg"}\n{"url":"https://x/2.jpg"}\n'
    declared = json.loads(s.requests[0].content)["spec"]["source"]
    assert declared == {
        "kind": "UploadedNewlineDelimitedJsonFile",
        "sizeBytes": len(content),
        "crc32c": crc32c_base64(content),
    }
    assert uploads[0].content == content and str(uploads[0].url) == "https://storage.test/bucket/f?sig=a%2Fb"
    assert "Secret-Key" not in uploads[0].headers
    assert uploads[0].headers["Content-Type"] == "application/x-ndjson"
    webhook = json.loads(s.requests[s.paths().index(f"/projects/{PROJECT}/batch/webhooks")].content)
    assert webhook["spec"]["retries"]["maxRetries"] == 2 and webhook["spec"]["secret"]["contents"] == "czNjcmV0"
    created = json.loads(s.requests[-1].content)
    assert created["spec"]["datasetId"] == "dataset_1"
    assert created["spec"]["resultDelivery"] == {"destinations": [{"kind": "Webhook", "webhookId": "webhook_9"}]}


async def test_a_dataset_nexus_cannot_read_is_an_error() -> None:
    s = Scripted(
        routes(
            {
                ("POST", f"/projects/{PROJECT}/batch/datasets"): dataset_body(overview="Uploading"),
                ("PUT", "/bucket/f"): httpx.Response(200),
                ("GET", DATASET_PATH): dataset_body(overview="FailedProcessing"),
            }
        )
    )
    with pytest.raises(JobnodeError, match="FailedProcessing"):
        await s.backend.create_job(JobSpec(step="deploy_1", input=ItemsInput(items=[1])))
    assert not s.paths("POST")[1:]  # no job was created


async def test_plan_sends_nothing() -> None:
    s = Scripted(routes({}))
    plan = await s.backend.plan_job(JobSpec(step="artifact_1", input=ItemsInput(items=[1, 2, 3])))
    assert plan.request is not None
    assert plan.items_total == 3 and plan.request["spec"]["deployment"]["kind"] == "NewEphemeralDeployment"
    assert s.requests == []


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"input": ArtifactsInput(artifacts=["art_1"])}, "input.artifacts"),
        ({"input": ArtifactsInput(artifacts=["dataset_1", "dataset_2"])}, "input.artifacts"),
        ({"params": {"x": 1}}, "params"),
    ],
)
async def test_bad_specs_fail_before_any_request(fields: dict[str, Any], match: str) -> None:
    s = Scripted(routes({}))
    spec = JobSpec(**{"step": "deploy_1", "input": ArtifactsInput(artifacts=["dataset_1"]), **fields})
    with pytest.raises(ValueError, match=match):
        await s.backend.create_job(spec)
    assert s.requests == []


# -- listing, deleting, what Nexus does not have ---------------------------------------------------------------------


async def test_list_passes_the_cursors_and_filters_the_page() -> None:
    listing = {
        "nextPage": "n2",
        "prevPage": "p0",
        "data": [job_body("batchjob_2", delivered=2), job_body("batchjob_1")],
    }
    s = Scripted(routes({("GET", f"/projects/{PROJECT}/batch/jobs"): listing, ("GET", DATASET_PATH): dataset_body()}))
    page = await s.backend.list_jobs(ListQuery(limit=2, cursor="c1", state=[JobState.SUCCEEDED]))
    assert [j.id for j in page.data] == ["batchjob_2"]
    assert (page.next_cursor, page.prev_cursor) == ("n2", "p0")
    assert dict(s.requests[0].url.params) == {"limit": "2", "page": "c1"}
    assert s.paths().count(DATASET_PATH) == 1  # the dataset's item count is fetched once
    with pytest.raises(UnsupportedOperation, match="tag"):
        await jobnode.AsyncClient(backend=s.backend).jobs.list(tag="nightly")


async def test_bulk_status_gets_each_job() -> None:
    s = Scripted(
        routes(
            {
                ("GET", JOB_PATH): job_body(),
                ("GET", f"/projects/{PROJECT}/batch/jobs/batchjob_x"): httpx.Response(
                    404, json={"message": "not found"}
                ),
                ("GET", DATASET_PATH): dataset_body(),
            }
        )
    )
    page = await s.backend.list_jobs(ListQuery(ids=["batchjob_1", "batchjob_x"]))
    assert [j.id for j in page.data] == ["batchjob_1"]


async def test_delete_refuses_a_job_that_has_not_ended() -> None:
    s = Scripted(routes({("GET", JOB_PATH): job_body(), ("GET", DATASET_PATH): dataset_body()}))
    with pytest.raises(Conflict) as raised:
        await s.backend.delete_job("batchjob_1")
    assert raised.value.details["blockers"][0]["kind"] == "job_state"
    assert s.paths("DELETE") == []


async def test_delete_dry_run_deletes_nothing() -> None:
    s = Scripted(
        routes(
            {
                ("GET", JOB_PATH): job_body(delivered=2),
                ("GET", DATASET_PATH): dataset_body(),
                ("DELETE", JOB_PATH): {"id": "batchjob_1", "deleted": True},
            }
        )
    )
    plan = await s.backend.delete_job("batchjob_1", dry_run=True)
    assert plan.allowed and plan.dry_run and [st.id for st in plan.steps] == ["batchjob_1"]
    assert s.paths("DELETE") == []
    assert not (await s.backend.delete_job("batchjob_1")).dry_run
    assert s.paths("DELETE") == [JOB_PATH]


async def test_what_nexus_does_not_have_is_unsupported() -> None:
    s = Scripted(routes({}))
    client = jobnode.AsyncClient(backend=s.backend)
    with pytest.raises(UnsupportedOperation, match="nexus"):
        await client.jobs.events("batchjob_1")
    with pytest.raises(UnsupportedOperation):
        await client.jobs.dead_letters("batchjob_1")
    with pytest.raises(UnsupportedOperation):
        async for _ in client.artifacts.read("dataset_1"):
            pass
    assert s.requests == []  # refused before anything was sent


# -- log paging -----------------------------------------------------------------------------------------------------


def log_server(times: list[int], levels: list[str] | None = None) -> Handler:
    """A Nexus logs endpoint over entries with these times: newest first, both times inclusive."""
    entries = [
        {
            "kind": "ItemPredicted",
            "createTime": t,
            "id": f"e{i}",
            "level": (levels or ["Info"] * len(times))[i],
            "item": f"item{i}",
            "status": "Delivered",
            "timeMs": 1.0,
        }
        for i, t in enumerate(times)
    ]
    rank = {"Debug": 10, "Info": 20, "Warning": 30, "Error": 40}

    def logs(request: httpx.Request) -> httpx.Response:
        q = request.url.params
        after, before = int(q.get("afterTime", -1)), int(q.get("beforeTime", 1 << 60))
        least = rank[q.get("minLevel", "Debug")]
        chosen = [e for e in entries if after <= e["createTime"] <= before and rank[e["level"]] >= least]
        chosen.sort(key=lambda e: (e["createTime"], int(e["id"][1:])), reverse=True)
        return httpx.Response(
            200,
            json={
                "id": "l",
                "object": "batch_job_log",
                "projectId": PROJECT,
                "entries": chosen[: int(q.get("maxEntries", 1000))],
            },
        )

    return routes({("GET", JOB_PATH + "/logs"): logs, ("GET", JOB_PATH): job_body(create=min(times, default=0) - 5)})


def bursty_times(total: int, seed: int) -> list[int]:
    """Times in bursts of up to 600 entries in one millisecond, with gaps between them."""
    rng = random.Random(seed)
    times: list[int] = []
    now = 1_700_000_000_000
    while len(times) < total:
        times += [now] * min(total - len(times), rng.choice([1, 1, 2, 5, 40, 300, 600]))
        now += rng.choice([1, 1, 2, 50, 4000])
    return times


@pytest.mark.parametrize(
    ("total", "seed", "limit"),
    [(0, 1, 1000), (1, 1, 1000), (2600, 2, 1000), (2600, 3, 333), (5000, 4, 1000), (1200, 5, 7)],
)
@pytest.mark.parametrize("order", ["desc", "asc"])
async def test_every_entry_comes_once_in_order(total: int, seed: int, limit: int, order: str) -> None:
    times = bursty_times(total, seed)
    s = Scripted(log_server(times))
    client = jobnode.AsyncClient(backend=s.backend)
    seen = [e async for e in client.jobs.iter_logs("batchjob_1", order=order, limit=limit)]
    expected = sorted(range(total), key=lambda i: (times[i], i), reverse=order == "desc")
    assert [e.id for e in seen] == [f"e{i}" for i in expected]


async def test_time_bounds_and_levels_are_sent_to_nexus() -> None:
    times = list(range(1_700_000_000_000, 1_700_000_000_000 + 3000))
    levels = ["Error" if t % 10 == 0 else "Info" for t in times]
    s = Scripted(log_server(times, levels))
    client = jobnode.AsyncClient(backend=s.backend)
    after, before = times[100], times[2500]
    from jobnode.platforms.nexus.mapping import from_ms

    for order in ("desc", "asc"):
        errors = [
            e
            async for e in client.jobs.iter_logs(
                "batchjob_1", order=order, min_level="error", after_time=from_ms(after), before_time=from_ms(before)
            )
        ]
        assert sorted(e.id for e in errors) == sorted(
            f"e{i}" for i, t in enumerate(times) if after <= t <= before and t % 10 == 0
        )
    assert all(r.url.params.get("minLevel") == "Error" for r in s.requests if r.url.path.endswith("/logs"))


@pytest.mark.parametrize("order", ["desc", "asc"])
async def test_a_millisecond_with_1000_entries_is_a_clear_error(order: str) -> None:
    s = Scripted(log_server([5] * 10 + [7] * 1500 + [9] * 10))
    with pytest.raises(JobnodeError, match="share the millisecond 7"):
        async for _ in jobnode.AsyncClient(backend=s.backend).jobs.iter_logs("batchjob_1", order=order):
            pass


async def test_a_cursor_of_the_other_order_is_refused() -> None:
    s = Scripted(log_server(bursty_times(1500, 6)))
    page = await s.backend.get_logs("batchjob_1", LogQuery(order="desc"))
    assert page.next_cursor
    with pytest.raises(ValueError, match="order='desc'"):
        await s.backend.get_logs("batchjob_1", LogQuery(order="asc", cursor=page.next_cursor))
    with pytest.raises(ValueError, match="cursor"):
        await s.backend.get_logs("batchjob_1", LogQuery(cursor="not-a-cursor"))
