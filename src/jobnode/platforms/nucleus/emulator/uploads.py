"""Uploads: the signed URL of a request id, and the `PUT` of its newline-delimited JSON there (no API key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from jobnode.platforms.nucleus.emulator.context import Nucleus
from jobnode.service.emulation import json_response

router = APIRouter(tags=["uploads"])
#: where signed URLs point: the root of the port, outside the API and its key (as cloud storage is)
UPLOADS = "/uploads/"
RequestId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,200}$", description="the SDK's uuid4().hex")]


def _nucleus(request: Request) -> Nucleus:
    nucleus: Nucleus = request.app.state.nucleus
    return nucleus


@router.get("/dataset/{dataset_id}/signedUrl/{request_id}")
def signed_url(dataset_id: str, request_id: RequestId, request: Request) -> Response:
    """Where to upload the file of `request_id` (the SDK's `s3Endpoint` query is for real storage and ignored)."""
    origin = f"{request.url.scheme}://{request.url.netloc}"
    return json_response({"signed_url": _nucleus(request).signed_url(origin, dataset_id, request_id)})


@router.put(UPLOADS + "{dataset_id}/{request_id}")
async def upload(dataset_id: str, request_id: RequestId, expires: int, signature: str, request: Request) -> Response:
    content = await request.body()
    await run_in_threadpool(_nucleus(request).receive_upload, dataset_id, request_id, expires, signature, content)
    return json_response({})
