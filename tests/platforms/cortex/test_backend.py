"""`CortexBackend` against a scripted Cortex (httpx.MockTransport): the cases a real server does not produce on
demand (a 503 in front of the operator, the 0.42 shapes, a 0.42 operator that no longer finds a finished job).

The same backend against the real emulator is in `test_emulator.py`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from jobnode.core.backend import ListQuery
from jobnode.core.errors import BadRequest, NotFound, ServerError
from jobnode.core.models import FilesInput, ItemsInput, JobSpec, JobState
from jobnode.core.transport import BearerAuth, RetryPolicy, Transport
from jobnode.platforms.cortex.backend import CortexBackend, parse_cortex_error
from tests.platforms.cortex.test_mapping import CURRENT_STATUS, SEED_STATUS

URL = "https://lb.example.com"
TOKEN = "bearer-token-123"
JOB = "image-classifier/69b183ed6bdf3e9b"
Handler = Callable[[httpx.Request], httpx.Response]


def error(kind: str, message: str) -> httpx.Response:
    return httpx.Response(400, json={"kind": kind, "message": message})


class Scripted:
    """A backend whose HTTP goes to `handler`; requests and backoff sleeps are recorded (and not slept)."""

    def __init__(self, handler: Handler, **options: Any) -> None:
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

        def record(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return handler(request)

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        http = httpx.AsyncClient(base_url=URL, auth=BearerAuth(TOKEN), transport=httpx.MockTransport(record))
        transport = Transport(
            URL, http=http, retry=RetryPolicy(), platform="cortex", error_parser=parse_cortex_error, sleep=sleep
        )
        self.backend = CortexBackend(URL, transport=transport, **options)


def answers(*responses: httpx.Response | dict[str, Any]) -> Handler:
    """Answers in turn (the last one repeats)."""
    queue = list(responses)

    def handle(request: httpx.Request) -> httpx.Response:
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    return handle


async def test_a_status_in_the_current_shape() -> None:
    s = Scripted(answers(CURRENT_STATUS))
    job = await s.backend.get_job(JOB)
    assert (job.id, job.state, job.raw_state) == (JOB, JobState.RUNNING, "running")
    [request] = s.requests
    assert request.url.path == "/image-classifier" and request.url.params["jobID"] == "69b183ed6bdf3e9b"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_an_unknown_job_is_not_found_and_keeps_cortex_s_kind() -> None:
    message = "failed to get job state: unable to find BatchAPI job 1 (image-classifier api)"
    s = Scripted(answers(error("job.not_found", message)))
    with pytest.raises(NotFound) as raised:
        await s.backend.get_job("image-classifier/1")
    assert (raised.value.code, raised.value.message, raised.value.platform) == ("job.not_found", message, "cortex")
    assert TOKEN not in str(raised.value) and TOKEN not in repr(s.backend)


async def test_other_refusals_are_bad_requests_with_their_kind() -> None:
    s = Scripted(answers(error("resources.api_not_deployed", "nope is not deployed")))
    with pytest.raises(BadRequest) as raised:
        await s.backend.create_job(JobSpec(step="nope", input=ItemsInput(items=[1])))
    assert raised.value.code == "resources.api_not_deployed"
    assert str(raised.value) == "cortex HTTP 400: nope is not deployed"


async def test_a_submission_is_never_repeated_once_sent() -> None:
    s = Scripted(answers(httpx.Response(503, text="Service Unavailable")))
    with pytest.raises(ServerError):
        await s.backend.create_job(JobSpec(step="image-classifier", input=ItemsInput(items=[1])))
    assert len(s.requests) == 1


async def test_a_status_request_is_retried_through_a_503() -> None:
    s = Scripted(answers(httpx.Response(503, text="Service Unavailable"), SEED_STATUS))
    job = await s.backend.get_job(JOB)
    assert job.raw_state == "status_running"
    assert len(s.requests) == 2 and len(s.sleeps) == 1


@pytest.mark.parametrize(
    "refusal",
    [
        error("job.job_is_not_in_progress", "1 (a api): cannot stop BatchAPI job because it is not in progress"),
        error("job.not_found", "unable to find BatchAPI job"),  # 0.42 deletes the resources of a finished job
    ],
    ids=["0.28", "0.42"],
)
async def test_stopping_a_job_that_has_ended_changes_nothing(refusal: httpx.Response) -> None:
    ended = json.loads(json.dumps(SEED_STATUS))
    ended["job_status"]["status"] = "status_succeeded"

    def handle(request: httpx.Request) -> httpx.Response:
        return refusal if request.method == "DELETE" else httpx.Response(200, json=ended)

    s = Scripted(handle)
    job = await s.backend.cancel_job(JOB)
    assert job.state is JobState.SUCCEEDED
    assert [r.method for r in s.requests] == ["DELETE", "GET"]


async def test_stopping_refused_for_another_reason_is_raised() -> None:
    s = Scripted(answers(error("resources.api_not_deployed", "a is not deployed")))
    with pytest.raises(BadRequest, match="a is not deployed"):
        await s.backend.cancel_job("a/1")


async def test_a_dry_run_reads_the_listing() -> None:
    listing = "s3://bucket/images/img_2.jpg\ns3://bucket/images/img_3.jpg\nvalidations passed"
    s = Scripted(answers(httpx.Response(200, text=listing)))
    spec = JobSpec(
        step="image-classifier", input=FilesInput(paths=["s3://bucket/images/"], includes=["**.jpg"]), batch_size=1
    )
    plan = await s.backend.plan_job(spec)
    assert plan.files == ["s3://bucket/images/img_2.jpg", "s3://bucket/images/img_3.jpg"]
    assert (plan.items_total, plan.batches_total, plan.platform) == (2, 2, "cortex")
    assert plan.request is not None and plan.request["file_path_lister"]["includes"] == ["**.jpg"]
    assert s.requests[0].url.params["dryRun"] == "true"


async def test_a_dry_run_refusal_is_cortex_s_text() -> None:
    s = Scripted(answers(httpx.Response(400, text="\nfile_path_lister: no s3 files match search criteria\n")))
    with pytest.raises(BadRequest, match="file_path_lister: no s3 files match search criteria"):
        await s.backend.plan_job(JobSpec(step="a", input=FilesInput(paths=["s3://b/none/"])))


async def test_listing_by_ids_leaves_unknown_jobs_out() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.params["jobID"] == "69b183ed6bdf3e9b":
            return httpx.Response(200, json=SEED_STATUS)
        return error("job.not_found", "unable to find BatchAPI job")

    s = Scripted(handle)
    page = await s.backend.list_jobs(ListQuery(ids=[JOB, "image-classifier/0"]))
    assert [job.id for job in page.data] == [JOB]
    finished = await s.backend.list_jobs(ListQuery(ids=[JOB], state=[JobState.SUCCEEDED]))
    assert finished.data == []


async def test_listing_an_api_s_jobs_reads_the_operator_s_listing() -> None:
    entry = {"spec": {"name": "image-classifier"}, "endpoint": f"{URL}/image-classifier"}
    entry["batch_job_statuses"] = [SEED_STATUS["job_status"]]
    s = Scripted(answers(httpx.Response(200, json=[entry])), api_name="image-classifier")
    page = await s.backend.list_jobs(ListQuery(limit=10))
    assert [job.id for job in page.data] == [JOB]
    assert s.requests[0].url.path == "/get/image-classifier"
    assert page.data[0].url == f"{URL}/image-classifier?jobID=69b183ed6bdf3e9b"


@pytest.mark.parametrize(
    ("query", "message"),
    [(ListQuery(), "api_name: Cortex lists the jobs of one Batch API"), (ListQuery(cursor="x"), "cursor: ")],
)
async def test_a_listing_cortex_cannot_give_is_refused(query: ListQuery, message: str) -> None:
    s = Scripted(answers({}))
    with pytest.raises(ValueError, match=message):
        await s.backend.list_jobs(query)
    assert s.requests == []


def test_a_bare_job_id_uses_the_api_name_setting() -> None:
    backend = CortexBackend(URL, api_name="image-classifier")
    assert backend.job_url("69b1") == f"{URL}/image-classifier?jobID=69b1"
    assert backend.job_url("other-api/69b1") == f"{URL}/other-api?jobID=69b1"
    with pytest.raises(ValueError, match="names no Batch API"):
        CortexBackend(URL).job_url("69b1")
