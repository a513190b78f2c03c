"""A job's output artifacts in the console: a preview of their first records, and their content to download."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import islice
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from jobnode.service.console.pages import compact
from jobnode.service.jobs import JobService
from jobnode.service.views import CONSOLE_PATH, ArtifactRecord

router = APIRouter(prefix=f"{CONSOLE_PATH}/artifacts")

#: records in a preview, and columns of a table preview
PREVIEW_RECORDS, PREVIEW_COLUMNS = 10, 8


@dataclass(frozen=True)
class Preview:
    """The first records of an artifact: a table when they are all objects (`columns` set), else one JSON line each."""

    artifact: ArtifactRecord
    columns: list[str] | None
    rows: list[list[str]]


def preview(service: JobService, artifact: ArtifactRecord, most: int = PREVIEW_RECORDS) -> Preview:
    records: list[Any] = [json.loads(line) for line in islice(service.artifact_lines(artifact.id), most)]
    if records and all(isinstance(r, dict) for r in records):
        columns: list[str] = []
        for r in records:
            columns += [k for k in r if k not in columns]
        columns = columns[:PREVIEW_COLUMNS]
        rows = [[compact(r[c], 80) if c in r else "" for c in columns] for r in records]
        return Preview(artifact, columns, rows)
    return Preview(artifact, None, [[compact(r)] for r in records])


def _filename(name: str) -> str:
    return (re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "artifact") + ".jsonl"


@router.get("/{artifact_id}")
async def artifact_page(request: Request, artifact_id: str) -> Response:
    """An artifact is shown on the page of the job that produced it."""
    service: JobService = request.app.state.service
    artifact = await run_in_threadpool(service.artifact, artifact_id)
    return RedirectResponse(f"{CONSOLE_PATH}/jobs/{artifact.job_id}#artifact-{artifact.id}", status_code=303)


@router.get("/{artifact_id}/content")
async def artifact_content(request: Request, artifact_id: str) -> Response:
    """The artifact's records as JSON lines, streamed, as a download."""
    service: JobService = request.app.state.service
    artifact = await run_in_threadpool(service.artifact, artifact_id)
    return StreamingResponse(
        service.artifact_lines(artifact_id),
        media_type=artifact.media_type,
        headers={"content-disposition": f'attachment; filename="{_filename(artifact.name)}"'},
    )
