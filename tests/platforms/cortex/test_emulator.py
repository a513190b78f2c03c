"""jobnode's Cortex backend against the real emulator (`jobnode serve --platform cortex`) over HTTP, with S3 on a
real S3-compatible server: the lifecycle of each input kind, every state the emulator reaches, the limits, dead
letters, the timeout from submission, stopping, errors and listings."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

import jobnode
from jobnode.core.backend import ListQuery
from jobnode.core.errors import BadRequest, NotFound
from jobnode.core.models import (
    ArtifactsInput,
    DelimitedInput,
    FilesInput,
    ItemsInput,
    Job,
    JobSpec,
    JobState,
)
from jobnode.platforms.cortex import messages
from jobnode.platforms.cortex.backend import CortexBackend
from jobnode.service.process import ServiceProcess
from tests.platforms.cortex.servers import S3

DLQ = "arn:aws:sqs:us-west-2:123456789012:failed.fifo"


async def wait(backend: CortexBackend, job: Job) -> Job:
    return await jobnode.AsyncClient(backend=backend).jobs.wait(job.id, timeout=60, poll_interval=0.05)


async def run(backend: CortexBackend, step: str, job_input: Any, **fields: Any) -> Job:
    job = await backend.create_job(JobSpec(step=step, input=job_input, **fields))
    return await wait(backend, job)


async def status(http: httpx.AsyncClient, job: Job) -> dict[str, Any]:
    api, _, job_id = job.id.partition("/")
    response = await http.get(f"/{api}", params={"jobID": job_id})
    response.raise_for_status()
    body: dict[str, Any] = response.json()["job_status"]
    return body


def lines(*items: Any) -> bytes:
    return "".join(json.dumps(item) + "\n" for item in items).encode()


class TestLifecycle:
    async def test_items(self, cortex: CortexBackend, ahttp: httpx.AsyncClient) -> None:
        created = await cortex.create_job(
            JobSpec(step="test-api", input=ItemsInput(items=[{"n": i} for i in range(10)]), batch_size=3, workers=2)
        )
        assert created.state is JobState.QUEUED and created.id.startswith("test-api/")
        done = await wait(cortex, created)
        assert (done.state, done.raw_state, done.message) == (JobState.SUCCEEDED, "status_succeeded", "succeeded")
        assert done.progress.batches_total == 4
        assert (done.progress.batches_succeeded, done.progress.batches_failed) == (4, 0)
        assert done.created_at is not None and done.ended_at is not None and done.ended_at >= done.created_at
        assert done.url == f"{cortex.url}/test-api?jobID={done.id.partition('/')[2]}"
        body = await status(ahttp, done)
        assert body["batches_in_queue"] == 0 and body["worker_counts"] is None
        assert body["batch_metrics"]["avg_time_per_batch"] >= 0

    async def test_s3_files_with_globs_and_their_results(
        self, cortex: CortexBackend, results_dir: str, s3_here: S3
    ) -> None:
        files = FilesInput(paths=["s3://bucket/images/"], includes=["**.jpg"], excludes=["**_3.jpg"])
        done = await run(cortex, "image-classifier", files, batch_size=2, params={"top_k": 2})
        assert done.state is JobState.SUCCEEDED
        [output] = done.outputs
        assert output.id == f"{results_dir}/{done.id.partition('/')[2]}/"
        records = [r async for r in cortex.read_artifact(output.id)]
        assert records == [{"url": "s3://bucket/images/img_2.jpg", "class": "dog", "top_k": 2}]
        result = await cortex.get_result(done.id)
        assert [a.id for a in result.outputs] == [output.id] and result.state is JobState.SUCCEEDED

    async def test_delimited_files_then_a_job_over_the_first_one_s_output(
        self, cortex: CortexBackend, s3_here: S3
    ) -> None:
        prefix = f"bucket/lines-{uuid.uuid4().hex}"
        s3_here.fs.pipe(f"{prefix}/part-0.jsonl", lines(*({"id": f"a{i}"} for i in range(5))))
        s3_here.fs.pipe(f"{prefix}/part-1.jsonl", lines(*({"id": f"b{i}"} for i in range(3))))
        s3_here.fs.pipe(f"{prefix}/_SUCCESS", b"")
        first = await run(
            cortex, "test-api", DelimitedInput(paths=[f"s3://{prefix}/"], includes=["**.jsonl"]), batch_size=2
        )
        assert first.state is JobState.SUCCEEDED and first.progress.batches_total == 4
        second = await run(cortex, "test-api", ArtifactsInput(artifacts=[first.outputs[0].id]), batch_size=4)
        assert second.state is JobState.SUCCEEDED and second.progress.batches_total == 2
        records = [r async for r in cortex.read_artifact(second.outputs[0].id)]
        assert [r["item"]["item"]["id"] for r in records] == [f"a{i}" for i in range(5)] + [f"b{i}" for i in range(3)]
        assert [r async for r in cortex.read_artifact(second.outputs[0].id, skip=6)] == records[6:]

    async def test_a_dry_run(self, cortex: CortexBackend) -> None:
        plan = await cortex.plan_job(
            JobSpec(
                step="image-classifier",
                input=FilesInput(paths=["s3://bucket/images/img"], excludes=["**.gif"]),
                batch_size=2,
            )
        )
        assert plan.files == [f"s3://bucket/images/img_{n}" for n in ("1.png", "2.jpg", "3.jpg")]
        assert (plan.items_total, plan.batches_total) == (3, 2)
        items = await cortex.plan_job(JobSpec(step="test-api", input=ItemsInput(items=[1, 2, 3]), batch_size=2))
        assert (items.files, items.items, items.batches_total) == ([], [1, 2, 3], 2)


class TestStates:
    async def test_a_failed_batch_is_not_retried_without_a_dead_letter_queue(self, cortex: CortexBackend) -> None:
        items = [{"n": 1}, {"n": 2, "fail_attempts": 1}, {"n": 3}]
        done = await run(cortex, "test-api", ItemsInput(items=items), batch_size=1)
        assert (done.state, done.raw_state) == (JobState.FAILED, "status_completed_with_failures")
        assert (done.progress.batches_succeeded, done.progress.batches_failed) == (2, 1)
        assert done.reason == "completed with failures: 1 failed batch attempt(s), 2 batch(es) succeeded"

    async def test_dead_letters_after_max_receive_count_attempts(self, cortex_service: ServiceProcess) -> None:
        backend = CortexBackend(cortex_service.url, token=cortex_service.token, dead_letter_queue_arn=DLQ)
        try:
            # batch 0 succeeds on its third attempt; batch 1 fails its three and goes to the dead-letter queue
            items = [{"fail_attempts": 2}, {"fail_attempts": 3}]
            done = await run(backend, "test-api", ItemsInput(items=items), batch_size=1, max_attempts=3)
            assert done.raw_state == "status_completed_with_failures"
            assert (done.progress.batches_succeeded, done.progress.batches_failed) == (1, 5)
            assert done.raw is not None
            assert done.raw["job_status"]["sqs_dead_letter_queue"] == {"arn": DLQ, "max_receive_count": 3}
            retried = await run(backend, "test-api", ItemsInput(items=[{"fail_attempts": 2}]), max_attempts=3)
            assert (retried.state, retried.progress.batches_failed) == (JobState.SUCCEEDED, 2)
        finally:
            await backend.aclose()

    async def test_the_timeout_counts_from_submission(self, cortex: CortexBackend, ahttp: httpx.AsyncClient) -> None:
        done = await run(cortex, "test-api", ItemsInput(items=[{"sleep": 30}]), timeout=1)
        assert (done.state, done.raw_state) == (JobState.TIMED_OUT, "status_timed_out")
        assert done.reason == "timed out: the timeout of 1s from submission passed"
        assert done.ended_at is not None and done.created_at is not None
        assert done.ended_at - done.created_at >= timedelta(seconds=1)
        assert (await status(ahttp, done))["timeout"] == 1

    async def test_a_timeout_of_centuries_never_ends_a_job(self, cortex: CortexBackend) -> None:
        done = await run(cortex, "test-api", ItemsInput(items=[1]), timeout=10**15)
        assert done.state is JobState.SUCCEEDED

    async def test_stop(self, cortex: CortexBackend, ahttp: httpx.AsyncClient) -> None:
        job = await cortex.create_job(
            JobSpec(step="test-api", input=ItemsInput(items=[{"sleep": 30}] * 4), workers=2, batch_size=1)
        )
        running = await jobnode.AsyncClient(backend=cortex).jobs.get(job.id)
        assert running.state in (JobState.QUEUED, JobState.RUNNING)
        stopped = await cortex.cancel_job(job.id)
        assert (stopped.state, stopped.raw_state, stopped.reason) == (JobState.CANCELLED, "status_stopped", "stopped")
        again = await cortex.cancel_job(job.id)  # Cortex refuses (not in progress): nothing changes
        assert again.state is JobState.CANCELLED
        api, _, job_id = job.id.partition("/")
        refused = await ahttp.delete(f"/{api}", params={"jobID": job_id})
        assert refused.status_code == 400
        assert refused.json()["kind"] == "job.job_is_not_in_progress"

    async def test_a_running_job_shows_its_workers(self, cortex: CortexBackend, ahttp: httpx.AsyncClient) -> None:
        job = await cortex.create_job(
            JobSpec(step="test-api", input=ItemsInput(items=[{"sleep": 30}] * 3), workers=2, batch_size=1)
        )
        try:
            body = await status(ahttp, job)
            deadline = time.monotonic() + 60
            while not (body["worker_counts"] and body["worker_counts"]["running"] == 2) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
                body = await status(ahttp, job)
            assert body["status"] == "status_running"
            assert body["worker_counts"] == {
                "pending": 0,
                "initializing": 0,
                "running": 2,
                "succeeded": 0,
                "failed": 0,
                "stalled": 0,
            }
            assert body["batches_in_queue"] == 3 and body["total_batch_count"] == 3
            running = await cortex.get_job(job.id)
            assert (running.progress.batches_running, running.progress.batches_queued) == (2, 1)
        finally:
            await cortex.cancel_job(job.id)


class TestEnqueuing:
    """What fails after the answer, while Cortex enqueues: the job ends `status_enqueue_failed`."""

    async def _submit(self, http: httpx.AsyncClient, body: dict[str, Any], api: str = "test-api") -> str:
        response = await http.post(f"/{api}", json=body)
        assert response.status_code == 200, response.text
        job_id: str = response.json()["job_id"]
        return job_id

    async def _ended(self, cortex: CortexBackend, api: str, job_id: str) -> Job:
        return await jobnode.AsyncClient(backend=cortex).jobs.wait(f"{api}/{job_id}", timeout=60, poll_interval=0.05)

    async def test_a_batch_over_the_message_limit(self, cortex: CortexBackend, ahttp: httpx.AsyncClient) -> None:
        items = ["x" * 100_000] * 3
        job_id = await self._submit(ahttp, {"workers": 1, "item_list": {"items": items, "batch_size": 3}})
        ended = await self._ended(cortex, "test-api", job_id)
        assert (ended.state, ended.raw_state) == (JobState.FAILED, "status_enqueue_failed")
        assert ended.reason is not None and ended.reason.startswith("failed while enqueuing")
        # jobnode's backend refuses the same job before sending it, naming the batch
        with pytest.raises(ValueError, match=r"batch_size: batch 0 \(items 0 to 2\) takes 300,010 bytes"):
            await cortex.create_job(JobSpec(step="test-api", input=ItemsInput(items=items), batch_size=3))

    @pytest.mark.parametrize(
        "content",
        [b'{"id": 1}\n{"id": oops}\n', b"\n\n", b'"' + b"x" * messages.MESSAGE_LIMIT + b'"\n'],
        ids=["not-json", "no-data", "item-over-the-limit"],
    )
    async def test_a_delimited_file_cortex_cannot_enqueue(
        self, cortex: CortexBackend, ahttp: httpx.AsyncClient, cortex_s3: S3, content: bytes
    ) -> None:
        key = f"bucket/bad-{uuid.uuid4().hex}.jsonl"
        cortex_s3.fs.pipe(key, content)
        job_id = await self._submit(
            ahttp, {"workers": 1, "delimited_files": {"s3_paths": [f"s3://{key}"], "batch_size": 10}}
        )
        ended = await self._ended(cortex, "test-api", job_id)
        assert ended.raw_state == "status_enqueue_failed"
        assert ended.raw is not None and ended.raw["job_status"]["end_time"] is not None


class TestErrors:
    async def test_an_api_that_is_not_deployed(self, cortex: CortexBackend) -> None:
        with pytest.raises(BadRequest) as raised:
            await cortex.create_job(JobSpec(step="no-such-api", input=ItemsInput(items=[1])))
        assert (raised.value.code, raised.value.message) == (
            "resources.api_not_deployed",
            "no-such-api is not deployed",
        )

    async def test_an_unknown_job(self, cortex: CortexBackend) -> None:
        with pytest.raises(NotFound, match=r"unable to find BatchAPI job 0123abcd \(test-api api\)"):
            await cortex.get_job("test-api/0123abcd")
        assert (await cortex.list_jobs(ListQuery(ids=["test-api/0123abcd"]))).data == []

    @pytest.mark.parametrize(
        ("body", "kind", "message"),
        [
            ({"workers": 1}, "job.specify_exactly_one_key", "specify exactly one of the following keys: item_list, "),
            (
                {"workers": 1, "item_list": {"items": [1], "batch_size": 1}, "delimited_files": {"s3_paths": []}},
                "job.conflicting_fields",
                "please specify either the item_list or delimited_files field",
            ),
            ({"workers": 1, "item_list": {"items": [], "batch_size": 1}}, "configreader.too_few_elements", "items: "),
            (
                {"workers": 1, "item_list": {"items": ["x" * 256_001], "batch_size": 1}},
                "batchapi.item_size_exceeds_limit",
                "item 0 has size 256003 bytes which exceeds the limit (256000 bytes)",
            ),
            (
                {"workers": 1, "item_list": {"items": [1], "batch_size": 0}},
                "configreader.must_be_greater_than_or_equal_to",
                "item_list: batch_size: must be greater than or equal to 1 (got 0)",
            ),
            (
                {"item_list": {"items": [1], "batch_size": 1}},
                "configreader.must_be_greater_than_or_equal_to",
                "workers: ",
            ),
            (
                {"workers": 1, "timeout": 0, "item_list": {"items": [1], "batch_size": 1}},
                "configreader.must_be_greater_than_or_equal_to",
                "timeout: ",
            ),
            (
                {
                    "workers": 1,
                    "sqs_dead_letter_queue": {"arn": "", "max_receive_count": 1},
                    "item_list": {"items": [1], "batch_size": 1},
                },
                "configreader.cannot_be_empty",
                "sqs_dead_letter_queue: arn: cannot be empty",
            ),
            (
                {"workers": 1, "sqs_dead_letter_queue": {"arn": DLQ}, "item_list": {"items": [1], "batch_size": 1}},
                "configreader.must_be_greater_than_or_equal_to",
                "sqs_dead_letter_queue: max_receive_count: must be greater than or equal to 1 (got 0)",
            ),
            (
                {"workers": "2", "item_list": {"items": [1], "batch_size": 1}},
                "error",
                "json: cannot unmarshal field workers",
            ),
            (
                {"workers": 1, "file_path_lister": {"s3_paths": ["/local/images"], "batch_size": 1}},
                "aws.invalid_s3_path",
                'file_path_lister: "/local/images" is not a valid s3 path',
            ),
            (
                {
                    "workers": 1,
                    "file_path_lister": {"s3_paths": ["s3://bucket/images/"], "includes": ["[a"], "batch_size": 1},
                },
                "error",
                "file_path_lister: includes: [a: ",
            ),
            (
                {"workers": 1, "file_path_lister": {"s3_paths": ["s3://bucket/nothing/"], "batch_size": 1}},
                "batchapi.no_s3_files_found",
                "file_path_lister: no s3 files match search criteria",
            ),
            (
                {"workers": 1, "item_list": {"items": [1], "batch_size": 1}, "config": {"top_k": "many"}},
                "jobnode.invalid_config",
                "config: top_k: ",
            ),
            (
                {"workers": 1, "item_list": {"items": [1], "batch_size": 1}, "config": {"dest_s3_dir": "/data/out"}},
                "aws.invalid_s3_path",
                'config: dest_s3_dir: "/data/out" is not a valid s3 path',
            ),
        ],
    )
    def test_a_bad_submission(self, http: httpx.Client, body: dict[str, Any], kind: str, message: str) -> None:
        response = http.post("/image-classifier", json=body)
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/json"
        assert response.json()["kind"] == kind
        assert message in response.json()["message"]

    def test_not_json_and_too_large(self, http: httpx.Client) -> None:
        bad = http.post("/test-api", content=b"{nope", headers={"Content-Type": "application/json"})
        assert (bad.status_code, bad.json()["kind"]) == (400, "error")
        assert bad.json()["message"].endswith("job submission schema can be found at https://docs.cortex.dev/v/0.28/")
        large = http.post("/test-api", content=b" " * (messages.REQUEST_LIMIT + 1))
        assert (large.status_code, large.json()["kind"]) == (400, "error")
        assert large.json()["message"].startswith("http: request body too large")

    def test_a_dry_run_refusal_is_text(self, http: httpx.Client) -> None:
        body = {"workers": 1, "delimited_files": {"s3_paths": ["s3://bucket/nothing/"], "batch_size": 1}}
        response = http.post("/test-api", params={"dryRun": "true"}, json=body)
        assert response.status_code == 400 and response.headers["content-type"].startswith("text/plain")
        assert response.text == "\ndelimited_files: no s3 files match search criteria\n"
        # a body that is not a submission is refused before the dry run, as JSON
        not_json = http.post("/test-api", params={"dryRun": "true"}, content=b"{nope")
        assert (not_json.status_code, not_json.json()["kind"]) == (400, "error")

    def test_status_and_stop_need_a_job_id(self, http: httpx.Client) -> None:
        for method in ("GET", "DELETE"):
            response = http.request(method, "/test-api")
            assert response.status_code == 400
            assert response.json() == {
                "kind": "endpoints.query_param_required",
                "message": "query param required: jobID",
            }

    def test_the_token_is_required(self, cortex_service: ServiceProcess) -> None:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            response = httpx.get(f"{cortex_service.url}/test-api", params={"jobID": "1"}, headers=headers)
            assert response.status_code == 401 and response.json()["kind"] == "unauthorized"
            assert cortex_service.token not in response.text


class TestListing:
    async def test_an_api_s_jobs(self, cortex_service: ServiceProcess, ahttp: httpx.AsyncClient) -> None:
        backend = CortexBackend(cortex_service.url, token=cortex_service.token, api_name="image-classifier")
        try:
            job = await run(backend, "image-classifier", ItemsInput(items=["img_7.png"]))
            listed = await backend.list_jobs(ListQuery(limit=100))
            assert job.id in [j.id for j in listed.data]
            mine = await backend.get_job(job.id.partition("/")[2])  # a bare id: the api_name setting's API
            assert mine.id == job.id
            succeeded = await backend.list_jobs(ListQuery(state=[JobState.RUNNING]))
            assert job.id not in [j.id for j in succeeded.data]
        finally:
            await backend.aclose()
        [entry] = (await ahttp.get("/get/image-classifier")).json()
        assert entry["spec"]["kind"] == "BatchAPI" and entry["endpoint"].endswith("/image-classifier")
        assert len([s for s in entry["batch_job_statuses"] if s["status"] != "status_running"]) <= 10
