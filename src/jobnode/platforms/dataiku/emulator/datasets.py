"""DSS datasets: list, settings, schema, partitions, data (tab-separated, as `iter_rows` reads it), clearing, and
the files of uploaded datasets."""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from jobnode.platforms.dataiku import wire
from jobnode.platforms.dataiku.emulator.context import Dss, project
from jobnode.platforms.dataiku.emulator.errors import bad
from jobnode.platforms.dataiku.emulator.flow import Dataset
from jobnode.service.emulation import json_response

router = APIRouter(tags=["datasets"])
DATASETS = "/projects/{project_key}/datasets"
FORMATS = {"tsv-excel-noheader": False, "tsv-excel-header": True}
Partitions = Annotated[list[str] | None, Query(description="partition ids (repeated, or comma-separated)")]


def _dss(request: Request) -> Dss:
    dss: Dss = request.app.state.dss
    return dss


def _partitions(given: list[str] | None) -> list[str] | None:
    if not given:
        return None
    return [p.strip() for value in given for p in value.split(",") if p.strip()] or None


def _settings(dss: Dss, project_key: str, dataset: Dataset) -> dict[str, Any]:
    columns = dss.datasets.columns(project_key, dataset.name)
    dimensions = [{"name": "partition", "type": "value"}] if dataset.partitioned else []
    return {
        "projectKey": project_key,
        "name": dataset.name,
        "type": "UploadedFiles" if dataset.recipe is None else "Filesystem",
        "managed": dataset.recipe is not None,
        "params": {},
        "schema": wire.Schema(columns=columns).to_wire(),
        "partitioning": {"dimensions": dimensions},
        "tags": [],
    }


@router.get(DATASETS + "/")
@router.get(DATASETS)
def list_datasets(project_key: str, request: Request) -> Response:
    dss = _dss(request)
    key = project(project_key)
    flow = dss.flows.get(key)
    return json_response([_settings(dss, key, d) for d in flow.datasets.values()])


@router.get(DATASETS + "/{name}")
@router.get(DATASETS + "/{name}/")
def get_dataset(project_key: str, name: str, request: Request) -> Response:
    dss = _dss(request)
    key = project(project_key)
    return json_response(_settings(dss, key, dss.dataset(key, name)[1]))


@router.get(DATASETS + "/{name}/schema")
def get_schema(project_key: str, name: str, request: Request) -> Response:
    dss = _dss(request)
    key = project(project_key)
    dss.dataset(key, name)
    return json_response(wire.Schema(columns=dss.datasets.columns(key, name)).to_wire())


@router.get(DATASETS + "/{name}/partitions")
def list_partitions(project_key: str, name: str, request: Request) -> Response:
    """The partitions that hold data (`NP` for a dataset that is not partitioned)."""
    dss = _dss(request)
    key = project(project_key)
    dss.dataset(key, name)
    return json_response(sorted(dss.datasets.partitions(key, name)))


@router.get(DATASETS + "/{name}/data/")
@router.get(DATASETS + "/{name}/data")
def read_data(
    project_key: str,
    name: str,
    request: Request,
    partitions: Partitions = None,
    format: str = "tsv-excel-noheader",
) -> Response:
    """The rows, tab-separated, in the schema's column order (`iter_rows` reads them with the schema)."""
    dss = _dss(request)
    key = project(project_key)
    dss.dataset(key, name)
    if format not in FORMATS:
        raise bad(f"format: {format!r} is not served here; use {' or '.join(FORMATS)}")
    rows = dss.datasets.rows(key, name, _partitions(partitions), header=FORMATS[format])
    return StreamingResponse(rows, media_type="text/tab-separated-values; charset=utf-8")


@router.get(DATASETS + "/{name}/finish-streaming/")
@router.get(DATASETS + "/{name}/finish-streaming")
def finish_streaming(project_key: str, name: str, request: Request) -> Response:
    """Where the API client confirms that it read a whole stream (every stream here is whole)."""
    _dss(request).dataset(project(project_key), name)
    return Response(status_code=200)


@router.delete(DATASETS + "/{name}/data")
@router.delete(DATASETS + "/{name}/data/")
def clear_data(project_key: str, name: str, request: Request, partitions: Partitions = None) -> Response:
    """Clear the data of some partitions, or of the whole dataset."""
    dss = _dss(request)
    key = project(project_key)
    dss.dataset(key, name)
    cleared = dss.datasets.clear(key, name, _partitions(partitions))
    return json_response({"success": True, "clearedPartitions": cleared})


@router.get(DATASETS + "/{name}/uploaded/files")
def list_files(project_key: str, name: str, request: Request) -> Response:
    dss = _dss(request)
    key = project(project_key)
    _uploaded(dss, key, name)
    return json_response(dss.datasets.files(key, name))


@router.post(DATASETS + "/{name}/uploaded/files")
async def upload_file(project_key: str, name: str, request: Request) -> Response:
    """Add a file (multipart field `file`) of newline-delimited JSON records to an uploaded dataset."""
    dss = _dss(request)
    key = project(project_key)
    _uploaded(dss, key, name)
    filename, content = await dss.run(_file_part, request.headers.get("content-type", ""), await request.body())
    records = await dss.run(dss.datasets.upload, key, name, filename, content)
    return json_response({"path": "/" + filename, "records": records})


def _uploaded(dss: Dss, project_key: str, name: str) -> None:
    """Refuse a dataset that a recipe builds (any other name of the default flow is an uploaded dataset)."""
    flow = dss.flows.get(project_key)
    found = flow.dataset(name)
    if found is None and dss.flows.is_declared(project_key):
        raise bad(f"Dataset {project_key}.{name} does not exist", 404)
    if found is not None and found.recipe is not None:
        raise bad(f"dataset {name} is built by recipe {found.recipe}; upload files into an uploaded dataset")


def _file_part(content_type: str, body: bytes) -> tuple[str, bytes]:
    """The `file` part of a multipart body: its file name and content."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise bad("file: send the file as multipart/form-data, in a field named file")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return part.get_filename() or "upload.jsonl", payload if isinstance(payload, bytes) else b""
    raise bad("file: the multipart body has no field named file")
