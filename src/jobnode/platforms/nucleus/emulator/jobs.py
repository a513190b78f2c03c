"""Nucleus async jobs: starting them (`append`, `annotate` with `?async=1`), listing them (`POST jobs/`), and one
job's status, errors and info."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from jobnode.platforms.nucleus import wire
from jobnode.platforms.nucleus.emulator.context import Nucleus, bad, status, validated
from jobnode.service.emulation import json_response, parse_json, read_json

router = APIRouter(tags=["jobs"])
Async = Annotated[str | None, Query(alias="async", description="1: run as an async job (the only way here)")]


def _nucleus(request: Request) -> Nucleus:
    nucleus: Nucleus = request.app.state.nucleus
    return nucleus


async def _from_upload(
    nucleus: Nucleus, dataset_id: str, request: Request
) -> tuple[wire.AsyncUploadRequest, list[Any], Path]:
    """The request's upload: the units of the file uploaded for its `requestId`, and that file."""
    body = validated(wire.AsyncUploadRequest, await read_json(request))
    units, path = await run_in_threadpool(nucleus.uploaded, dataset_id, body.request_id)
    return body, units, path


async def _starting(request: Request, dataset_id: str, run_async: str | None) -> Nucleus:
    """The emulator, once the request may start a job: `?async=1`, and a dataset that exists."""
    if run_async != "1":
        raise bad("async: this service runs uploads as async jobs; add ?async=1 (the SDK's asynchronous=True)")
    nucleus = _nucleus(request)
    await run_in_threadpool(nucleus.dataset, dataset_id)
    return nucleus


@router.post("/dataset/{dataset_id}/append")
async def append(dataset_id: str, request: Request, run_async: Async = None) -> Response:
    """Remote items (a `requestId` of an uploaded file), or local images (multipart: `items` and `image` parts)."""
    nucleus = await _starting(request, dataset_id, run_async)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        units, update = await _multipart_items(nucleus, dataset_id, request)
        doc = await run_in_threadpool(nucleus.start, dataset_id, wire.APPEND_JOB, units, update=update, source=None)
    else:
        body, units, path = await _from_upload(nucleus, dataset_id, request)
        doc = await run_in_threadpool(
            nucleus.start, dataset_id, wire.APPEND_JOB, units, update=body.update, source=path
        )
    return await _started(nucleus, doc.id)


@router.post("/dataset/{dataset_id}/annotate")
async def annotate(dataset_id: str, request: Request, run_async: Async = None) -> Response:
    nucleus = await _starting(request, dataset_id, run_async)
    body, units, path = await _from_upload(nucleus, dataset_id, request)
    doc = await run_in_threadpool(nucleus.start, dataset_id, wire.ANNOTATE_JOB, units, update=body.update, source=path)
    return await _started(nucleus, doc.id)


async def _started(nucleus: Nucleus, job_id: str) -> Response:
    """A job that was just started, as its info (what the SDK's `AsyncJob.from_json` reads)."""
    info = await run_in_threadpool(lambda: nucleus.info(*nucleus.job(job_id)))
    return json_response(info.to_wire())


async def _multipart_items(nucleus: Nucleus, dataset_id: str, request: Request) -> tuple[list[Any], bool]:
    """The items of a local-file append, each with its image stored and named as its `image_url`."""
    async with request.form() as form:
        raw = form.get("items")
        images = [f for f in form.getlist("image") if isinstance(f, UploadFile)]
        if not isinstance(raw, str):
            raise bad("items: send the items as a form field of JSON (an array), with one image part per item")
        units = parse_json(raw, field="items")
        if not isinstance(units, list) or not units:
            raise bad("items: a JSON array of items, one per image part")
        if len(images) != len(units):
            raise bad(f"image: {len(images)} image parts for {len(units)} items; send one image per item, in order")
        contents = [(image.filename or "", await image.read()) for image in images]
    update = False
    for unit, (name, content) in zip(units, contents, strict=True):
        if isinstance(unit, dict):
            update = update or bool(unit.pop("update", False))
            unit["image_url"] = await run_in_threadpool(nucleus.store_image, dataset_id, name, content)
    return units, update


@router.post("/jobs/")
@router.post("/jobs", include_in_schema=False)
async def list_jobs(request: Request) -> Response:
    """The jobs a `JobInfoRequestPayload` asks for (every key optional here), newest first."""
    raw = await request.body()
    body = validated(wire.JobInfoRequest, parse_json(raw) if raw.strip() else {})
    infos = await run_in_threadpool(_nucleus(request).list_jobs, body)
    return json_response([i.to_wire() for i in infos])


@router.get("/job/{job_id}")
def job_status(job_id: str, request: Request) -> Response:
    return json_response(status(*_nucleus(request).job(job_id)).to_wire())


@router.get("/job/{job_id}/info")
def job_info(job_id: str, request: Request) -> Response:
    nucleus = _nucleus(request)
    return json_response(nucleus.info(*nucleus.job(job_id)).to_wire())


@router.get("/job/{job_id}/errors")
def job_errors(job_id: str, request: Request) -> Response:
    nucleus = _nucleus(request)
    doc, _ = nucleus.job(job_id)
    return json_response(nucleus.errors(doc))
