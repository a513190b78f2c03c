"""jobnode's Nucleus backend and raw HTTP against the real emulator (`jobnode serve --platform nucleus`) on 127.0.0.1:
the whole life of an append and an annotate, each status, what they leave in the dataset, errors (401, 404, 429 with
Retry-After, bad input that is never a 500), listing to the end, and bulk status."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import jobnode
from jobnode.core.backend import ListQuery
from jobnode.core.errors import AuthenticationError, NotFound
from jobnode.core.models import DelimitedInput, FilesInput, ItemsInput, JobSpec, JobState
from jobnode.core.transport import Transport
from jobnode.platforms.nucleus import wire
from jobnode.platforms.nucleus.backend import NUCLEUS_RETRY, NucleusBackend
from jobnode.platforms.nucleus.emulator.context import status
from jobnode.platforms.nucleus.mapping import job_state
from jobnode.service.documents import Document
from jobnode.service.process import ServiceProcess
from jobnode.service.views import JobRecord
from tests.platforms.nucleus.api import NucleusApi, boxes, items


def append(units: list[Any], **params: Any) -> JobSpec:
    return JobSpec(step="append", params=params, input=ItemsInput(items=units))


def annotate(units: list[Any], **params: Any) -> JobSpec:
    return JobSpec(step="annotate", params=params, input=ItemsInput(items=units))


async def wait(backend: NucleusBackend, job_id: str) -> jobnode.Job:
    return await jobnode.AsyncClient(backend=backend).jobs.wait(job_id, timeout=60, poll_interval=0.1)


# -- the life of a job ----------------------------------------------------------------------------------------------


async def test_append_then_annotate_the_seeds_pipeline(
    nucleus: NucleusBackend, api: NucleusApi, dataset_id: str
) -> None:
    job = await nucleus.create_job(append(items(5)))
    assert (job.name, job.step) == ("uploadDatasetItems", "append")
    assert job.state in (JobState.RUNNING, JobState.SUCCEEDED)  # a small append may have ended by its answer
    seen: list[jobnode.Job] = []
    done = await jobnode.AsyncClient(backend=nucleus).jobs.wait(
        job.id, timeout=60, poll_interval=0.1, on_progress=seen.append
    )
    assert (done.state, done.raw_state, done.message) == (
        JobState.SUCCEEDED,
        "Completed",
        "Job completed successfully.",
    )
    assert (done.progress.items_total, done.progress.items_processed) == (5, 5)
    assert done.raw is not None and done.raw["job_progress"] == "1.00" and done.raw["job_type"] == "uploadDatasetItems"
    assert all(not j.is_terminal for j in seen[:-1])  # `Running` until the items are in the dataset
    assert api.reference_ids(dataset_id) == [f"img_{i}" for i in range(5)]

    annotated = await wait(nucleus, (await nucleus.create_job(annotate(boxes(["img_0", "img_3"])))).id)
    assert annotated.state is JobState.SUCCEEDED and annotated.step == "annotate"
    assert [a["annotation_id"] for a in api.annotations(dataset_id, "img_3")["box"]] == ["car_1"]
    assert api.annotations(dataset_id, "img_1") == {}
    assert await nucleus.get_errors(annotated.id) == []


async def test_an_annotate_of_missing_items_ends_errored_with_the_seeds_errors(
    nucleus: NucleusBackend, api: NucleusApi, dataset_id: str
) -> None:
    await wait(nucleus, (await nucleus.create_job(append(items(2)))).id)
    partial = await wait(nucleus, (await nucleus.create_job(annotate(boxes(["img_1", "bad_ref_id"])))).id)
    assert (partial.state, partial.raw_state) == (JobState.FAILED, "Errored_Partial")
    assert partial.reason == "1 of 2 annotations failed; see the job's errors"
    [error] = await nucleus.get_errors(partial.id)
    assert (error.item, error.message) == ("bad_ref_id", "Item with id bad_ref_id doesn't exist.")
    raw = api.json("GET", f"job/{partial.id}/errors")
    assert raw == [
        '{"annotation":{"label":"car","type":"box","geometry":{"x":50,"y":60,"width":70,"height":80},'
        '"referenceId":"bad_ref_id","annotationId":"car_1","metadata":{}},'
        '"error":"Item with id bad_ref_id doesn\'t exist."}'
    ]
    assert list(api.annotations(dataset_id, "img_1")) == ["box"]  # what passed is stored all the same
    logs = [e async for e in jobnode.AsyncClient(backend=nucleus).jobs.iter_logs(partial.id)]
    assert [(e.level.value, e.kind, e.item) for e in logs] == [("error", "ItemFailed", "bad_ref_id")]

    none = await wait(nucleus, (await nucleus.create_job(annotate(boxes(["x", "y"])))).id)
    assert (none.state, none.raw_state) == (JobState.FAILED, "Errored_User")
    assert {e.item for e in await nucleus.get_errors(none.id)} == {"x", "y"}


async def test_an_annotate_sent_before_its_append_has_finished_finds_no_items(
    nucleus: NucleusBackend, api: NucleusApi, dataset_id: str
) -> None:
    """Why the seed blocks annotate on append: the items are checked as the dataset is when the annotate starts."""
    early = await wait(nucleus, (await nucleus.create_job(annotate(boxes(["img_0"])))).id)
    assert early.raw_state == "Errored_User"
    await wait(nucleus, (await nucleus.create_job(append(items(1)))).id)
    late = await wait(nucleus, (await nucleus.create_job(annotate(boxes(["img_0"])))).id)
    assert late.raw_state == "Completed"


async def test_update_says_whether_an_existing_reference_id_is_overwritten(
    nucleus: NucleusBackend, api: NucleusApi, dataset_id: str
) -> None:
    first = [{"reference_id": "a", "image_url": "s3://b/1.jpg", "metadata": {"v": 1}}]
    second = [{"reference_id": "a", "image_url": "s3://b/2.jpg", "metadata": {"v": 2}}]
    for units, update, expected in ((first, False, 1), (second, False, 1), (second, True, 2)):
        await wait(nucleus, (await nucleus.create_job(append(units, update=update))).id)
        [item] = api.json("GET", f"dataset/{dataset_id}/datasetItems")["dataset_items"]
        assert item["metadata"] == {"v": expected} and item["dataset_item_id"].startswith("di_")


def test_a_bad_item_fails_alone_with_an_error_in_the_same_form(api: NucleusApi, dataset_id: str) -> None:
    """What the backend would refuse before sending, uploaded as the SDK does: the job checks each line."""
    request_id = "r" + secrets.token_hex(8)
    signed = api.json("GET", f"dataset/{dataset_id}/signedUrl/{request_id}")["signed_url"]
    assert signed.startswith(api.url.removesuffix("/v1/nucleus") + "/uploads/")
    lines = [{"reference_id": "ok", "image_url": "s3://b/ok.jpg"}, {"reference_id": "no_url"}]
    put = api.upload(signed, "\n".join(json.dumps(u) for u in lines).encode())
    assert put.status_code == 200 and put.json() == {}
    job = api.json("POST", f"dataset/{dataset_id}/append?async=1", json={"requestId": request_id, "update": False})
    assert set(job) == {"job_id", "job_last_known_status", "job_type", "job_creation_time"}
    for _ in range(300):
        state = api.json("GET", f"job/{job['job_id']}")
        if state["status"] != "Running":
            break
        time.sleep(0.05)
    assert state["status"] == "Errored_Partial" and state["total_steps"] == "2"
    [error] = api.json("GET", f"job/{job['job_id']}/errors")
    assert json.loads(error) == {"item": {"referenceId": "no_url"}, "error": "image_url: required"}
    assert api.reference_ids(dataset_id) == ["ok"]
    assert api.json("GET", f"job/{job['job_id']}/info")["job_last_known_status"] == "Errored_Partial"


async def test_inputs_from_files(nucleus: NucleusBackend, api: NucleusApi, dataset_id: str, tmp_path: Path) -> None:
    lines = tmp_path / "items.ndjson"
    lines.write_text("".join(json.dumps(u) + "\n" for u in items(3, "line")))
    assert (
        await wait(
            nucleus, (await nucleus.create_job(JobSpec(step="append", input=DelimitedInput(paths=[str(lines)])))).id
        )
    ).state is JobState.SUCCEEDED
    images = tmp_path / "images"
    images.mkdir()
    for name in ("a.jpg", "b.jpg"):
        (images / name).write_bytes(f"image {name}".encode())
    job = await wait(
        nucleus, (await nucleus.create_job(JobSpec(step="append", input=FilesInput(paths=[str(images)])))).id
    )
    assert job.state is JobState.SUCCEEDED and job.progress.items_total == 2
    stored = {i["reference_id"]: i for i in api.json("GET", f"dataset/{dataset_id}/datasetItems")["dataset_items"]}
    assert set(stored) == {"line_0", "line_1", "line_2", str(images / "a.jpg"), str(images / "b.jpg")}
    uploaded = stored[str(images / "b.jpg")]["image_url"]
    assert uploaded.startswith("file://")
    assert await asyncio.to_thread(Path(uploaded.removeprefix("file://")).read_bytes) == b"image b.jpg"
    assert api.json("GET", f"dataset/{dataset_id}/size") == {"count": 5}


# -- listing --------------------------------------------------------------------------------------------------------


async def test_listing_pages_to_the_end_newest_first(nucleus: NucleusBackend, api: NucleusApi, dataset_id: str) -> None:
    created = [(await nucleus.create_job(append(items(1, f"p{n}")))).id for n in range(5)]
    for job_id in created:
        await wait(nucleus, job_id)
    listed: list[str] = []
    cursor = None
    while True:
        page = await nucleus.list_jobs(ListQuery(limit=2, cursor=cursor))
        listed += [j.id for j in page.data]
        if page.next_cursor is None or set(created) <= set(listed):
            break
        cursor = page.next_cursor
    mine = [j for j in listed if j in created]
    assert mine == created[::-1] and len(listed) == len(set(listed))

    body = api.json("POST", "jobs/", json={"dataset_id": dataset_id, "show_completed": True, "job_types": None})
    assert [j["job_id"] for j in body] == created[::-1]
    assert api.json("POST", "jobs/", json={"dataset_id": dataset_id, "show_completed": False}) == []
    assert api.json("POST", "jobs/", json={"dataset_id": dataset_id, "job_types": ["uploadAnnotations"]}) == []
    newest = body[0]["job_creation_time"]
    assert (
        len(api.json("POST", "jobs/", json={"dataset_id": dataset_id, "show_completed": True, "from_date": newest}))
        >= 1
    )
    assert (
        api.json("POST", "jobs/", json={"dataset_id": dataset_id, "show_completed": True, "to_date": "2000-01-01"})
        == []
    )
    assert len(api.json("POST", "jobs/", json={"dataset_id": dataset_id, "show_completed": True, "limit": 2})) == 2

    bulk = await jobnode.AsyncClient(backend=nucleus).jobs.bulk_status([*created[:2], "job_missing"])
    assert {j.id: j.state for j in bulk} == {created[0]: JobState.SUCCEEDED, created[1]: JobState.SUCCEEDED}


# -- errors ---------------------------------------------------------------------------------------------------------


async def test_unknown_jobs_and_wrong_keys(
    nucleus: NucleusBackend, nucleus_service: ServiceProcess, api: NucleusApi
) -> None:
    with pytest.raises(NotFound, match="no job 'job_nope'"):
        await nucleus.get_job("job_nope")
    stranger = NucleusBackend(api.url, token="not-the-key")
    with pytest.raises(AuthenticationError) as raised:
        await stranger.get_job("job_nope")
    await stranger.aclose()
    assert "not-the-key" not in str(raised.value)
    missing = api.call("GET", "job/job_nope", key="")
    assert missing.status_code == 401 and missing.json()["status_code"] == 401
    limited = api.call("GET", "job/job_nope", key="", headers={"x-limited-access-key": nucleus_service.token or ""})
    assert limited.status_code == 404 and limited.json() == {
        "status_code": 404,
        "error": "job_id: no job 'job_nope'; list jobs with POST jobs/",
    }


@pytest.mark.parametrize(
    ("method", "route", "kwargs", "code", "says"),
    [
        ("POST", "dataset/create", {"content": b"{not json"}, 400, "body: not valid JSON"),
        ("POST", "dataset/create", {"json": {"name": ""}}, 400, "name: String should have at least 1 character"),
        ("POST", "dataset/create", {"json": {"name": "x", "is_scene": True}}, 400, "is_scene: "),
        ("POST", "dataset/create", {"json": {"name": "x", "colour": "red"}}, 400, "colour: not a field"),
        ("GET", "dataset/ds_nope/name", {}, 404, "dataset_id: no dataset 'ds_nope'"),
        ("GET", "dataset/ds_nope/signedUrl/abc", {}, 404, "dataset_id: "),
        ("GET", "dataset/{ds}/signedUrl/a.b", {}, 400, "request_id: "),
        ("GET", "dataset/{ds}/refloc/nope", {}, 404, "reference_id: dataset "),
        ("POST", "dataset/{ds}/append", {"json": {"requestId": "r1"}}, 400, "async: this service runs uploads"),
        ("POST", "dataset/{ds}/append?async=1", {"json": {"requestId": "r1"}}, 400, "requestId: nothing was uploaded"),
        ("POST", "dataset/{ds}/append?async=1", {"json": {"update": True}}, 400, "requestId: required"),
        (
            "POST",
            "dataset/{ds}/annotate?async=1",
            {"json": {"requestId": "../x"}},
            400,
            "requestId: String should match",
        ),
        ("POST", "dataset/ds_nope/annotate?async=1", {"json": {"requestId": "r1"}}, 404, "dataset_id: no dataset"),
        (
            "POST",
            "dataset/ds_nope/append?async=1",
            {"files": {"image": ("a.jpg", b"x")}},
            404,
            "dataset_id: no dataset",
        ),
        (
            "POST",
            "dataset/{ds}/append?async=1",
            {"files": {"items": (None, "[{}]")}},
            400,
            "image: 0 image parts for 1",
        ),
        ("POST", "dataset/{ds}/append?async=1", {"files": {"image": ("a.jpg", b"x")}}, 400, "items: send the items"),
        ("POST", "jobs/", {"json": {"job_types": ["baking"]}}, 400, "job_types: unknown job types baking"),
        ("POST", "jobs/", {"json": {"from_date": "last week"}}, 400, "from_date: 'last week' is not a date"),
        ("POST", "jobs/", {"json": {"limit": 50001}}, 400, "limit: "),
        ("POST", "jobs/", {"json": {"color": 1}}, 400, "color: not a field"),
        ("GET", "job/job_nope/errors", {}, 404, "job_id: no job"),
        ("DELETE", "job/job_nope", {}, 405, ""),
    ],
)
def test_bad_input_is_named_in_scales_error_shape(
    api: NucleusApi, dataset_id: str, method: str, route: str, kwargs: dict[str, Any], code: int, says: str
) -> None:
    response = api.call(method, route.replace("{ds}", dataset_id), **kwargs)
    assert response.status_code == code, response.text
    body = response.json()
    assert set(body) == {"status_code", "error"} and body["status_code"] == code
    assert says in body["error"]


def test_an_upload_url_is_checked(api: NucleusApi, dataset_id: str) -> None:
    signed = api.json("GET", f"dataset/{dataset_id}/signedUrl/abc")["signed_url"]
    forged = signed.replace("signature=", "signature=0")
    assert api.upload(forged, b"{}").status_code == 403
    assert api.upload(signed.replace("/abc?", "/abd?"), b"{}").status_code == 403
    assert api.upload(signed, b"{}\nnot json\n").status_code == 200
    bad = api.call("POST", f"dataset/{dataset_id}/annotate?async=1", json={"requestId": "abc"})
    assert bad.status_code == 400 and "requestId: line 2 of the upload is not JSON" in bad.json()["error"]


async def test_429_with_retry_after_is_waited_out(tmp_path: Path) -> None:
    token = secrets.token_hex(8)
    with ServiceProcess(
        tmp_path / "limited", token=token, extra_args=["--platform", "nucleus"], env={"JOBNODE_NUCLEUS_RATE_LIMIT": "2"}
    ) as service:
        url = service.url + "/v1/nucleus"
        async with httpx.AsyncClient(auth=(token, "")) as raw:
            answers = [await raw.post(f"{url}/jobs/", json={}) for _ in range(4)]
        limited = [a for a in answers if a.status_code == 429]
        assert limited and int(limited[0].headers["Retry-After"]) >= 1
        assert limited[0].json()["error"].startswith("Too many requests")

        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)
            await asyncio.sleep(seconds)

        transport = Transport(
            url, auth=httpx.BasicAuth(token, ""), retry=NUCLEUS_RETRY, platform="nucleus", sleep=sleep
        )
        backend = NucleusBackend(url, transport=transport)
        pages = [await backend.list_jobs(ListQuery()) for _ in range(6)]
        await backend.aclose()
    assert all(p.data == [] for p in pages)
    assert slept and min(slept) >= 1.0  # each wait lasted at least the Retry-After the service asked for


def test_datasets_as_the_sdk_reads_them(api: NucleusApi) -> None:
    dataset_id = api.create_dataset("cars")
    assert api.json("GET", f"dataset/{dataset_id}/name") == {"name": "cars"}
    assert api.json("GET", f"dataset/{dataset_id}/is_scene") == {"is_scene": False}
    assert api.json("GET", f"dataset/{dataset_id}/use_privacy_mode") == {"use_privacy_mode": False}
    assert {"id": dataset_id, "name": "cars", "is_public": False} in api.json("GET", "dataset/details")
    assert api.json("DELETE", f"dataset/{dataset_id}") == {"dataset_id": dataset_id, "deleted": True}
    assert api.call("GET", f"dataset/{dataset_id}/size").status_code == 404


# -- the status of every engine state -------------------------------------------------------------------------------

RECORD = JobRecord(
    seq=1,
    id="job_0123",
    name="n",
    state=JobState.SUCCEEDED,
    message=None,
    reason=None,
    step="nucleus_annotate",
    step_version="1",
    spec_json="{}",
    tags=(),
    parent_id=None,
    created_at=0.0,
    started_at=None,
    ended_at=None,
    updated_at=0.0,
    items_total=4,
    items_processed=4,
    items_failed=0,
    items_delivered=0,
    items_failed_delivery=0,
    batches_total=1,
    batches_succeeded=1,
    batches_failed=0,
    batches_running=0,
)


@pytest.mark.parametrize(
    ("state", "processed", "failed", "settled", "expected"),
    [
        (JobState.QUEUED, 0, 0, False, "Running"),  # never Queued: the SDK's waiter would stop there
        (JobState.SCHEDULED, 0, 0, False, "Running"),
        (JobState.RUNNING, 2, 0, False, "Running"),
        (JobState.SUCCEEDED, 4, 0, False, "Running"),  # until what it uploaded is in the dataset
        (JobState.SUCCEEDED, 4, 0, True, "Completed"),
        (JobState.SUCCEEDED, 3, 1, True, "Errored_Partial"),
        (JobState.SUCCEEDED, 0, 4, True, "Errored_User"),
        (JobState.FAILED, 0, 0, True, "Errored_Server"),
        (JobState.TIMED_OUT, 1, 0, True, "Errored_Hanging"),
        (JobState.CANCELLED, 1, 0, True, "Cancelled"),
    ],
)
def test_each_engine_state_as_a_nucleus_status(
    state: JobState, processed: int, failed: int, settled: bool, expected: str
) -> None:
    record = dataclasses.replace(RECORD, state=state, items_processed=processed, items_failed=failed)
    doc = Document(1, "job", "job_1", "ds_1", record.id, {"job_type": wire.ANNOTATE_JOB, "settled": settled}, 0.0)
    answer = status(doc, record)
    assert answer.status == expected
    assert answer.total_steps == "4" and answer.completed_steps == str(processed + failed)
    assert answer.message  # the SDK's JobError reads it
    assert job_state(expected).is_terminal is (expected != "Running")


def test_lines_that_are_not_objects_fail_alone(api: NucleusApi, dataset_id: str) -> None:
    signed = api.json("GET", f"dataset/{dataset_id}/signedUrl/notobjects")["signed_url"]
    assert api.upload(signed, b'7\n"text"\n[1]\n').status_code == 200
    job = api.json("POST", f"dataset/{dataset_id}/annotate?async=1", json={"requestId": "notobjects"})
    for _ in range(300):
        state = api.json("GET", f"job/{job['job_id']}")
        if state["status"] != "Running":
            break
        time.sleep(0.05)
    assert state["status"] == "Errored_User" and state["total_steps"] == "3"
    errors = [json.loads(e) for e in api.json("GET", f"job/{job['job_id']}/errors")]
    assert sorted(json.dumps(e["annotation"]) for e in errors) == ['"text"', "7", "[1]"]
    assert all(e["error"].startswith("expected a JSON object") for e in errors)
