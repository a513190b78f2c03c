"""`NucleusBackend` against a scripted Nucleus (httpx.MockTransport): auth, errors, retries, uploads, list paging and
bulk status. The same backend against the real emulator is in `test_emulator.py`; here are the cases a real server
does not produce on demand (503 then 200, a 520, a Retry-After of seven seconds, many jobs created in one
millisecond) and the exact requests sent."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import jobnode
from jobnode.core.backend import ListQuery
from jobnode.core.errors import JobnodeError, NotFound, RateLimited, ServerError, UnsupportedOperation
from jobnode.core.models import DelimitedInput, FilesInput, ItemsInput, JobSpec, JobState
from jobnode.core.transport import Transport
from jobnode.platforms.nucleus import wire
from jobnode.platforms.nucleus.backend import NUCLEUS_RETRY, NucleusBackend

URL = "https://nucleus.test/v1/nucleus"
KEY = "scale-key-123"
SIGNED = "https://storage.test/bucket/upload?sig=a%2Fb"
Handler = Callable[[httpx.Request], httpx.Response]


def info(job_id: str = "job_1", status: str = "Running", created: str = "2024-01-01T00:00:00.000Z") -> dict[str, Any]:
    return {
        "job_id": job_id,
        "job_last_known_status": status,
        "job_type": "uploadDatasetItems",
        "job_creation_time": created,
    }


def status_body(job_id: str = "job_1", status: str = "Running", **extra: Any) -> dict[str, Any]:
    return {"job_id": job_id, "status": status, "message": "m", "job_progress": "0.50", **extra}


class Scripted:
    """A backend whose HTTP goes to `handler`; requests and the backoff sleeps are recorded (and not slept)."""

    def __init__(self, handler: Handler, *, dataset_id: str | None = "ds_1") -> None:
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

        def record(request: httpx.Request) -> httpx.Response:
            request.read()
            self.requests.append(request)
            return handler(request)

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        mock = httpx.MockTransport(record)
        api = httpx.AsyncClient(base_url=URL, auth=httpx.BasicAuth(KEY, ""), transport=mock)
        uploads = httpx.AsyncClient(transport=mock)
        self.backend = NucleusBackend(
            URL,
            dataset_id=dataset_id,
            transport=Transport(URL, http=api, retry=NUCLEUS_RETRY, platform="nucleus", sleep=sleep),
            upload_transport=Transport("", http=uploads, retry=NUCLEUS_RETRY, platform="nucleus", sleep=sleep),
        )

    def sent(self, method: str | None = None) -> list[str]:
        return [
            f"{r.url.path}{'?' + r.url.query.decode() if r.url.query else ''}"
            for r in self.requests
            if method in (None, r.method)
        ]


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


JOB = "/v1/nucleus/job/job_1"
INFO = "/v1/nucleus/job/job_1/info"
JOBS = "/v1/nucleus/jobs/"


def uploading(operation: str = "append", answer: Any = None) -> Handler:
    """Answers the three steps of an async upload, whatever the request id."""
    table = {
        ("PUT", "/bucket/upload"): {},
        ("POST", f"/v1/nucleus/dataset/ds_1/{operation}"): answer if answer is not None else info(),
    }

    def handle(request: httpx.Request) -> httpx.Response:
        if "/signedUrl/" in request.url.path:
            return httpx.Response(200, json={"signed_url": SIGNED})
        return routes(table)(request)

    return handle


# -- auth, errors and retries ---------------------------------------------------------------------------------------


async def test_the_key_is_the_basic_user_and_never_shown() -> None:
    missing = httpx.Response(404, json={"status_code": 404, "error": "no job 'job_1'"})
    s = Scripted(routes({("GET", JOB): missing, ("GET", INFO): missing}))
    with pytest.raises(NotFound) as raised:
        await s.backend.get_job("job_1")
    assert raised.value.message == "no job 'job_1'" and raised.value.platform == "nucleus"
    assert s.requests[0].headers["Authorization"] == "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    assert KEY not in str(raised.value) and KEY not in repr(s.backend)


@pytest.mark.parametrize("code", [503, 504, 520, 524])
async def test_the_statuses_the_sdk_retries_are_retried(code: int) -> None:
    s = Scripted(routes({("GET", JOB): [httpx.Response(code), status_body()], ("GET", INFO): info()}))
    job = await s.backend.get_job("job_1")
    assert job.state is JobState.RUNNING and job.progress.items_processed == 0
    assert s.sent("GET").count(JOB) == 2 and len(s.sleeps) == 1


async def test_a_500_is_not_retried_as_the_sdk_does_not() -> None:
    s = Scripted(routes({("GET", JOB): httpx.Response(500, text="boom"), ("GET", INFO): info()}))
    with pytest.raises(ServerError, match="boom"):
        await s.backend.get_job("job_1")
    assert s.sent("GET").count(JOB) == 1


async def test_429_waits_as_long_as_retry_after_says_then_gives_up() -> None:
    limited = httpx.Response(429, headers={"Retry-After": "7"}, json={"status_code": 429, "error": "slow down"})
    s = Scripted(routes({("GET", JOB): [limited, status_body()], ("GET", INFO): info()}))
    await s.backend.get_job("job_1")
    assert s.sleeps == [7.0]
    s = Scripted(routes({("GET", JOB): limited, ("GET", INFO): info()}))
    with pytest.raises(RateLimited, match="slow down"):
        await s.backend.get_job("job_1")
    assert s.sent("GET").count(JOB) == NUCLEUS_RETRY.max_attempts


async def test_starting_an_upload_is_never_repeated() -> None:
    s = Scripted(uploading(answer=httpx.Response(503)))
    with pytest.raises(ServerError):
        await s.backend.create_job(
            JobSpec(step="append", input=ItemsInput(items=[{"reference_id": "a", "image_url": "u"}]))
        )
    assert s.sent("POST") == ["/v1/nucleus/dataset/ds_1/append?async=1"]  # Nucleus has no idempotency keys


# -- uploads --------------------------------------------------------------------------------------------------------


async def test_an_append_uploads_to_the_signed_url_without_the_key_then_starts_the_job() -> None:
    s = Scripted(uploading())
    items = [
        {"reference_id": "a", "image_url": "s3://b/a.jpg", "metadata": {"k": "é"}},
        {"reference_id": "b", "image_url": "u"},
    ]
    job = await s.backend.create_job(JobSpec(step="append", input=ItemsInput(items=items), params={"update": True}))
    assert (job.id, job.state, job.step, job.url) == ("job_1", JobState.RUNNING, "append", f"{URL}/job/job_1")
    get, put, post = s.requests
    request_id = get.url.path.rsplit("/", 1)[1]
    assert get.url.path == f"/v1/nucleus/dataset/ds_1/signedUrl/{request_id}" and len(request_id) == 32
    assert str(put.url) == SIGNED and "Authorization" not in put.headers
    assert [json.loads(line) for line in put.content.decode().splitlines()] == items
    assert json.loads(post.content) == {"requestId": request_id, "update": True}
    assert post.headers["Authorization"].startswith("Basic ")


async def test_an_annotate_of_delimited_files_goes_to_its_dataset(tmp_path: Path) -> None:
    lines = [{"reference_id": f"r{i}", "type": "box", "label": "car", "geometry": {}} for i in range(3)]
    path = tmp_path / "boxes.ndjson"
    path.write_text("\n".join(json.dumps(u) for u in lines[:2]) + "\n\n" + json.dumps(lines[2]))
    s = Scripted(uploading("annotate"))
    job = await s.backend.create_job(
        JobSpec(step="annotate", params={"dataset_id": "ds_1"}, input=DelimitedInput(paths=[str(path)]))
    )
    assert job.id == "job_1"
    put = next(r for r in s.requests if r.method == "PUT")
    assert [json.loads(line) for line in put.content.decode().splitlines()] == lines
    assert s.sent("POST") == ["/v1/nucleus/dataset/ds_1/annotate?async=1"]


async def test_a_bad_line_is_named_before_anything_is_sent(tmp_path: Path) -> None:
    path = tmp_path / "items.ndjson"
    path.write_text('{"reference_id": "a", "image_url": "u"}\n{"reference_id": "b"}\n')
    s = Scripted(uploading())
    with pytest.raises(ValueError, match=r"items.ndjson:2.image_url: required"):
        await s.backend.create_job(JobSpec(step="append", input=DelimitedInput(paths=[str(path)])))
    path.write_text("not json\n")
    with pytest.raises(ValueError, match=r"items.ndjson:1 is not JSON"):
        await s.backend.create_job(JobSpec(step="append", input=DelimitedInput(paths=[str(path)])))
    assert s.requests == []


async def test_remote_images_are_appended_by_url(tmp_path: Path) -> None:
    s = Scripted(uploading())
    await s.backend.create_job(JobSpec(step="append", input=FilesInput(paths=["s3://bucket/a.jpg", "https://x/b.png"])))
    put = next(r for r in s.requests if r.method == "PUT")
    assert [json.loads(line) for line in put.content.decode().splitlines()] == [
        {"reference_id": "s3://bucket/a.jpg", "image_url": "s3://bucket/a.jpg", "metadata": {}},
        {"reference_id": "https://x/b.png", "image_url": "https://x/b.png", "metadata": {}},
    ]


async def test_local_images_are_one_multipart_append(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("b.jpg", "a.png"):
        (folder / name).write_bytes(name.encode())
    s = Scripted(routes({("POST", "/v1/nucleus/dataset/ds_1/append"): info()}))
    await s.backend.create_job(JobSpec(step="append", input=FilesInput(paths=[str(folder)])))
    [post] = s.requests
    assert post.url.query == b"async=1"
    assert post.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    body = post.content.decode()
    paths = [str(folder / "a.png"), str(folder / "b.jpg")]
    items = [{"metadata": {}, "reference_id": p, "image_url": p, "update": False} for p in paths]
    assert json.dumps(items) in body
    first, second = body.index(f'name="image"; filename="{paths[0]}"'), body.index(f'filename="{paths[1]}"')
    assert first < body.index("\r\n\r\na.png\r\n") < second < body.index("\r\n\r\nb.jpg\r\n")
    assert "Content-Type: image/png" in body and "Content-Type: image/jpg" in body


async def test_too_many_or_mixed_local_images_are_refused(tmp_path: Path) -> None:
    paths = []
    for i in range(11):
        (tmp_path / f"{i}.jpg").write_bytes(b"x")
        paths.append(str(tmp_path / f"{i}.jpg"))
    s = Scripted(routes({}))
    with pytest.raises(ValueError, match="11 local images; Nucleus takes at most 10"):
        await s.backend.create_job(JobSpec(step="append", input=FilesInput(paths=paths)))
    with pytest.raises(ValueError, match="local and remote images in separate appends"):
        await s.backend.create_job(JobSpec(step="append", input=FilesInput(paths=[paths[0], "s3://b/x.jpg"])))
    with pytest.raises(ValueError, match=r"input\.includes"):
        await s.backend.create_job(JobSpec(step="append", input=FilesInput(paths=[str(tmp_path)], includes=["*.jpg"])))
    assert s.requests == []


async def test_a_plan_shows_the_request_and_sends_nothing() -> None:
    s = Scripted(routes({}))
    plan = await jobnode.AsyncClient(backend=s.backend).jobs.plan(
        step="annotate", items=[{"reference_id": "a", "type": "category", "label": "cat"}]
    )
    assert plan.items_total == 1 and plan.sample == [{"reference_id": "a", "type": "category", "label": "cat"}]
    assert plan.request == {
        "route": "dataset/ds_1/annotate?async=1",
        "job_type": "uploadAnnotations",
        "update": False,
        "upload": "newline-delimited JSON to a signed URL",
    }
    assert s.requests == []


# -- listing --------------------------------------------------------------------------------------------------------


def jobs_handler(jobs: list[dict[str, Any]], bodies: list[dict[str, Any]]) -> Handler:
    """`POST jobs/` over `jobs` as the emulator answers it: inclusive `to_date`, newest first, `limit`."""

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        found = [j for j in jobs if body["to_date"] is None or j["job_creation_time"] <= body["to_date"]]
        if not body["show_completed"]:
            found = [j for j in found if j["job_last_known_status"] != "Completed"]
        found.sort(key=lambda j: j["job_creation_time"], reverse=True)
        return httpx.Response(200, json=found[: body["limit"]])

    return handle


async def test_listing_pages_by_date_through_jobs_created_at_the_same_time() -> None:
    times = ["2024-01-01T00:00:00.001Z"] * 3 + ["2024-01-01T00:00:00.002Z"] * 2 + ["2024-01-01T00:00:00.003Z"]
    jobs = [info(f"job_{n}", created=t) for n, t in enumerate(times)]
    bodies: list[dict[str, Any]] = []
    s = Scripted(jobs_handler(jobs, bodies))
    seen, cursor, pages = [], None, 0
    while True:
        page = await s.backend.list_jobs(ListQuery(limit=2, cursor=cursor))
        seen += [j.id for j in page.data]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(j["job_id"] for j in jobs) and len(seen) == len(set(seen))
    assert seen[0] == "job_5"  # newest first
    assert bodies[0]["to_date"] is None and bodies[1]["to_date"] == "2024-01-01T00:00:00.002Z"
    assert all(b["limit"] <= 2 + 3 for b in bodies)


async def test_more_jobs_in_one_millisecond_than_a_listing_holds_is_an_error_that_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    jobs = [info(f"job_{n}") for n in range(3)]
    s = Scripted(jobs_handler(jobs, []))
    with pytest.raises(ValueError, match="cursor: not a cursor"):
        await s.backend.list_jobs(ListQuery(limit=1, cursor="garbage!"))
    monkeypatch.setattr(wire, "JOBS_LIMIT_MAX", 3)  # a listing that holds 3 jobs, all created at one time
    first = await s.backend.list_jobs(ListQuery(limit=3))
    assert len(first.data) == 3 and first.next_cursor is not None
    with pytest.raises(JobnodeError, match=r"were created at 2024-01-01T00:00:00\.000Z"):
        await s.backend.list_jobs(ListQuery(limit=3, cursor=first.next_cursor))


async def test_state_and_name_filters() -> None:
    jobs = [info("job_0", "Completed"), info("job_1", "Running"), info("job_2", "Errored_User")]
    jobs[2]["job_type"] = "uploadAnnotations"
    bodies: list[dict[str, Any]] = []
    s = Scripted(jobs_handler(jobs, bodies))
    active = await s.backend.list_jobs(ListQuery(state=[JobState.QUEUED, JobState.RUNNING]))
    assert [j.id for j in active.data] == ["job_1"] and bodies[-1]["show_completed"] is False
    done = await s.backend.list_jobs(ListQuery(state=[JobState.SUCCEEDED]))
    assert [j.id for j in done.data] == ["job_0"] and bodies[-1]["show_completed"] is True
    await s.backend.list_jobs(ListQuery(name="uploadAnnotations"))
    assert bodies[-1]["job_types"] == ["uploadAnnotations"]
    asked = len(bodies)
    assert (await s.backend.list_jobs(ListQuery(name="nightly"))).data == []  # no job type: nothing to ask
    assert len(bodies) == asked


async def test_bulk_status_is_one_listing_and_the_details_of_jobs_that_ended_in_error() -> None:
    jobs = [
        info("job_0", "Completed", created="2024-01-01T00:00:00.005Z"),
        info("job_1", "Running", created="2024-01-01T00:00:00.007Z"),
        info("job_2", "Errored_User", created="2024-01-01T00:00:00.009Z"),
        info("job_other", "Running"),
    ]
    bodies: list[dict[str, Any]] = []

    def listing(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=jobs)

    missing = httpx.Response(404, json={"status_code": 404, "error": "no job"})
    answers = {
        ("POST", JOBS): listing,
        ("GET", "/v1/nucleus/job/job_0"): status_body("job_0", "Completed"),
        ("GET", "/v1/nucleus/job/job_0/info"): jobs[0],
        ("GET", "/v1/nucleus/job/job_2"): status_body("job_2", "Errored_User", message="2 of 2 annotations failed"),
        ("GET", "/v1/nucleus/job/job_2/info"): info("job_2", "Errored_User"),
        ("GET", "/v1/nucleus/job/job_old"): status_body("job_old", "Completed", total_steps="4", completed_steps="4"),
        ("GET", "/v1/nucleus/job/job_old/info"): info("job_old", "Completed"),
        ("GET", "/v1/nucleus/job/job_gone"): missing,
        ("GET", "/v1/nucleus/job/job_gone/info"): missing,
    }
    s = Scripted(routes(answers))
    client = jobnode.AsyncClient(backend=s.backend)
    wanted = ["job_0", "job_1", "job_2", "job_old", "job_gone"]
    found = {j.id: j for j in await client.jobs.bulk_status(wanted)}
    assert {k: j.state for k, j in found.items()} == {
        "job_0": JobState.SUCCEEDED,
        "job_1": JobState.RUNNING,
        "job_2": JobState.FAILED,
        "job_old": JobState.SUCCEEDED,  # older than the listing: read on its own
    }
    assert found["job_2"].reason == "2 of 2 annotations failed"  # read whole: its message is its reason
    assert found["job_old"].progress.items_total == 4
    assert s.sent().count(JOBS) == 1 and bodies[0]["from_date"] is None  # none of them was known yet
    assert not {"/v1/nucleus/job/job_0", "/v1/nucleus/job/job_1"} & set(s.sent())  # listed: nothing more to read

    await client.jobs.get("job_0")  # now known: its creation time with it
    s.requests.clear()
    await client.jobs.bulk_status(["job_0", "job_1"])
    assert bodies[-1]["from_date"] == "2024-01-01T00:00:00.005Z"  # the listing starts at the oldest one known
    assert s.sent() == [JOBS]


async def test_one_job_alone_is_read_as_the_sdks_waiter_reads_it() -> None:
    s = Scripted(routes({("GET", JOB): status_body(), ("GET", INFO): info()}))
    client = jobnode.AsyncClient(backend=s.backend)
    for _ in range(3):
        [job] = await client.jobs.bulk_status(["job_1"])
        assert job.state is JobState.RUNNING
    assert sorted(s.sent()) == [JOB, JOB, JOB, INFO]  # its info is read once


# -- errors and logs ------------------------------------------------------------------------------------------------

ERRORS = [
    '{"annotation":{"referenceId":"r9"},"error":"Item with id r9 doesn\'t exist."}',
    '{"annotation":{"referenceId":"r8"},"error":"Item with id r8 doesn\'t exist."}',
    "a batch failed",
]


async def test_errors_and_logs_come_from_the_error_list() -> None:
    s = Scripted(routes({("GET", "/v1/nucleus/job/job_1/errors"): [ERRORS], ("GET", INFO): info()}))
    errors = await s.backend.get_errors("job_1", limit=2)
    assert [(e.item, e.message) for e in errors] == [
        ("r9", "Item with id r9 doesn't exist."),
        ("r8", "Item with id r8 doesn't exist."),
    ]
    assert errors[0].time.year == 2024  # the job's creation time: Nucleus gives errors none
    client = jobnode.AsyncClient(backend=s.backend)
    oldest_first = [e.item async for e in client.jobs.iter_logs("job_1", limit=2)]
    assert oldest_first == [None, "r8", "r9"]
    newest = await client.jobs.logs("job_1", order="desc", limit=1)
    assert [e.item for e in newest.data] == ["r9"] and newest.next_cursor == "1"
    assert (await client.jobs.logs("job_1", kind="ItemSucceeded")).data == []
    with pytest.raises(ValueError, match="cursor: not a log cursor"):
        await client.jobs.logs("job_1", cursor="abc")
    assert s.sent().count(INFO) == 1  # the creation time is read once


async def test_what_nucleus_does_not_have_is_unsupported_before_anything_is_sent() -> None:
    s = Scripted(routes({}))
    client = jobnode.AsyncClient(backend=s.backend)
    with pytest.raises(UnsupportedOperation, match="nucleus"):
        await client.jobs.cancel("job_1")
    with pytest.raises(UnsupportedOperation, match="'delete'"):
        await client.jobs.delete("job_1")
    with pytest.raises(UnsupportedOperation, match="'tags'"):
        await client.jobs.list(tag="nightly")
    with pytest.raises(UnsupportedOperation):
        await client.jobs.events("job_1")
    assert s.requests == []


async def test_a_cleanup_deletes_nothing_and_says_why() -> None:
    s = Scripted(routes({}))
    report = await jobnode.AsyncClient(backend=s.backend).jobs.cleanup(["job_1", "job_2", "job_1"])
    assert report.deleted_jobs == [] and not report.plan.allowed
    assert [(b.id, b.kind) for b in report.kept] == [("job_1", "unsupported"), ("job_2", "unsupported")]
    assert report.kept[0].reason == "job job_1 is kept: the nucleus platform cannot delete jobs"
    assert s.requests == []


async def test_from_settings_and_the_default_url() -> None:
    from jobnode.platforms.nucleus import PLATFORM

    settings = PLATFORM.make_settings(token="k", dataset_id="ds_9")
    backend = PLATFORM.create_backend(settings)
    assert isinstance(backend, NucleusBackend)
    assert (backend.url, backend.dataset_id) == ("https://api.scale.com/v1/nucleus", "ds_9")
    assert backend.job_url("job_1") == "https://api.scale.com/v1/nucleus/job/job_1"
    await backend.aclose()
    with pytest.raises(jobnode.ConfigurationError, match=r"dataset_id: .*empty"):
        PLATFORM.make_settings(dataset_id=" ")


async def test_a_remote_prefix_gives_every_image_under_it() -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    for name in ("street/b.jpg", "street/a.jpg", "other/c.jpg"):
        fs.pipe(f"/nucleus-test/{name}", b"x")
    s = Scripted(uploading())
    await s.backend.create_job(JobSpec(step="append", input=FilesInput(paths=["memory://nucleus-test/street/"])))
    put = next(r for r in s.requests if r.method == "PUT")
    assert [json.loads(line)["image_url"] for line in put.content.decode().splitlines()] == [
        "memory:///nucleus-test/street/a.jpg",  # fsspec's own spelling of a memory path
        "memory:///nucleus-test/street/b.jpg",
    ]
    with pytest.raises(ValueError, match="lists no images"):
        await s.backend.create_job(JobSpec(step="append", input=FilesInput(paths=["memory://nucleus-test/none/"])))
