"""Nexus datasets: create (with a signed upload URL), list, get, delete, and the upload itself."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from jobnode.platforms.nexus import wire
from jobnode.platforms.nexus.emulator.context import Nexus, bad
from jobnode.service.emulation import BadCursor, json_response

router = APIRouter(tags=["datasets"])
PATH = "/projects/{project_id}/batch/datasets"
Limit = Annotated[int, Query(ge=1, le=1000, description="items on a page")]


def _nexus(request: Request) -> Nexus:
    nexus: Nexus = request.app.state.nexus
    return nexus


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.post(PATH, status_code=201)
def create_dataset(project_id: str, body: wire.CreateDatasetRequest, request: Request) -> Response:
    nexus = _nexus(request)
    return json_response(nexus.dataset_json(nexus.create_dataset(project_id, body), _base(request)), 201)


@router.get(PATH)
def list_datasets(project_id: str, request: Request, limit: Limit = 100, page: str | None = None) -> Response:
    nexus = _nexus(request)
    try:
        listing = nexus.records.listing("dataset", scope=project_id, limit=limit, cursor=page)
    except BadCursor as exc:
        raise bad(f"page: {exc}; pass back a nextPage or prevPage exactly") from None
    base = _base(request)
    return json_response(
        {
            "nextPage": listing.next_cursor,
            "prevPage": listing.prev_cursor,
            "data": [nexus.dataset_json(d, base) for d in listing.documents],
        }
    )


@router.get(PATH + "/{dataset_id}")
def get_dataset(project_id: str, dataset_id: str, request: Request) -> Response:
    nexus = _nexus(request)
    return json_response(nexus.dataset_json(nexus.dataset(project_id, dataset_id), _base(request)))


@router.delete(PATH + "/{dataset_id}")
def delete_dataset(project_id: str, dataset_id: str, request: Request) -> Response:
    _nexus(request).delete_dataset(project_id, dataset_id)
    return json_response(wire.DeleteResponse(id=dataset_id, deleted=True).to_wire())


@router.put("/uploads/{dataset_id}")
async def upload(dataset_id: str, request: Request, expires: int, signature: str) -> Response:
    """Where a dataset's file is uploaded (the `uploadUrl` of the dataset; it needs no secret key)."""
    nexus = _nexus(request)
    doc = await run_in_threadpool(nexus.check_upload, dataset_id, expires, signature)
    content = await request.body()
    await run_in_threadpool(nexus.receive_upload, doc, content)
    return Response(status_code=200)
