"""WorkData: uploads, jobs' results, their download, their actions, their queries, and their deletion under the
lineage rules (see `context`)."""

from __future__ import annotations

from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from jobnode.platforms.pinexq.emulator.context import PinexQ, WorkDataView, pinexq_of
from jobnode.platforms.pinexq.emulator.entrypoint import USER_ID
from jobnode.platforms.pinexq.emulator.hypermedia import (
    Urls,
    action,
    base_url,
    clean_tags,
    created,
    decode_token,
    done,
    link,
    page_bounds,
    parse_body,
    properties,
    query_result,
    query_url,
    siren_response,
    upload_action,
)
from jobnode.platforms.pinexq.siren import Entity
from jobnode.platforms.pinexq.wire import (
    RenameParameters,
    SetCommentParameters,
    SetTagsParameters,
    SortTypes,
    UploadWorkDataParameters,
    WorkDataFilter,
    WorkDataKind,
    WorkDataProperties,
    WorkDataQueryParameters,
    utc,
)
from jobnode.service.emulation import Conflict, InvalidRequest, parse_json, read_json

router = APIRouter(prefix="/api/workdata", tags=["WorkData"])

#: the largest upload the service accepts by default (its request limit)
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
UPLOAD_FIELD, PARAMETERS_FIELD = "upload-file", "UploadWorkDataParameters"


def workdata_entity(pinexq: PinexQ, wd: WorkDataView, urls: Urls, *, rel: str | None = None) -> Entity:
    body = wd.body
    href = urls.workdata(wd.id)
    deletable = pinexq.is_deletable(wd)
    props = WorkDataProperties(
        owner_id=USER_ID,
        created_by=USER_ID,
        name=body["name"],
        created_at=utc(wd.artifact.created_at),
        size_in_bytes=body["size"] if body.get("size") is not None else wd.artifact.size_bytes,
        tags=body["tags"],
        media_type=body["media_type"],
        kind=WorkDataKind(body["kind"]),
        is_deletable=deletable,
        is_used_as_job_input=pinexq.is_used(wd),
        is_used_as_template_input=False,
        hidden=body["hidden"],
        secret=body["secret"],
        comments=body.get("comments"),
    )
    actions = [
        action("EditTags", f"{href}/EditTags", parameters="SetTagsWorkDataParameters"),
        action("Rename", f"{href}/Rename", parameters="SetNameWorkDataParameters"),
        action("EditComment", f"{href}/EditComment", parameters="SetCommentWorkDataParameters"),
        action("UnHide" if body["hidden"] else "Hide", f"{href}/{'UnHide' if body['hidden'] else 'Hide'}"),
        action("DisallowDeletion" if body["deletable"] else "AllowDeletion", f"{href}/{_toggle(body['deletable'])}"),
    ]
    if not body["secret"]:
        actions.append(action("MarkAsSecret", f"{href}/MarkAsSecret"))
    if deletable:
        actions.insert(0, action("Delete", href, method="DELETE"))
    links = [link("self", href), link("Download", f"{href}/download", media_type=body["media_type"])]
    if producer := pinexq.producer_of(wd):
        links.append(link("ProducedByJob", urls.job(producer)))
    return Entity(
        classes=["WorkData"],
        rel=[rel] if rel else None,
        title="WorkData",
        properties=properties(props),
        actions=actions,
        links=links,
    )


def _toggle(deletable: bool) -> str:
    return "DisallowDeletion" if deletable else "AllowDeletion"


@router.get("")
def root(request: Request) -> Response:
    urls = Urls(base_url(request))
    return siren_response(
        Entity(
            classes=["WorkDataRoot"],
            title="WorkData",
            properties={},
            actions=[
                upload_action(
                    "Upload", urls.of("/workdata/upload"), parameters=PARAMETERS_FIELD, max_bytes=MAX_UPLOAD_BYTES
                ),
                action("CreateWorkDataQuery", urls.of("/workdata/query"), parameters="WorkDataQueryParameters"),
            ],
            links=[link("self", urls.of("/workdata")), link("all", query_url(urls, "/workdata"))],
        )
    )


def form_parts(content_type: str, body: bytes) -> dict[str, tuple[str | None, str, bytes]]:
    """The fields of a `multipart/form-data` body: name -> (file name, content type, content)."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise InvalidRequest(UPLOAD_FIELD, "send the file as multipart/form-data, in a field named upload-file")
    message = BytesParser(policy=policy.HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    parts: dict[str, tuple[str | None, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            parts[name] = (part.get_filename(), part.get_content_type(), payload)
    return parts


@router.post("/upload", status_code=201)
async def upload(request: Request) -> Response:
    """Store a file as WorkData (`ClientUpload`): its records become an artifact of the service."""
    parts = form_parts(request.headers.get("content-type", ""), await request.body())
    if UPLOAD_FIELD not in parts:
        raise InvalidRequest(UPLOAD_FIELD, "required: the file to upload")
    filename, media_type, content = parts[UPLOAD_FIELD]
    parameters = UploadWorkDataParameters()
    if PARAMETERS_FIELD in parts:
        parameters = parse_body(
            UploadWorkDataParameters, parse_json(parts[PARAMETERS_FIELD][2], field=PARAMETERS_FIELD)
        )
    if parameters.folder:
        raise InvalidRequest("Folder", "this service has no folders; leave the folder out")
    pinexq = pinexq_of(request)
    name = filename or "upload"
    engine_id, path = await run_in_threadpool(pinexq.start_upload, name, media_type, content)
    record = await pinexq.ended(engine_id)
    workdata_id = await run_in_threadpool(
        lambda: pinexq.finish_upload(
            record,
            filename=name,
            media_type=media_type,
            path=path,
            size=len(content),
            tags=parameters.tags or [],
            secret=bool(parameters.secret),
        )
    )
    return created(Urls(base_url(request)).workdata(workdata_id))


def matching(pinexq: PinexQ, query: WorkDataQueryParameters) -> list[WorkDataView]:
    """The WorkData a query names, newest first unless it says otherwise."""
    f = query.filter or WorkDataFilter()
    found = [wd for wd in pinexq.all_workdata() if f.show_hidden or not wd.body["hidden"]]
    if f.name_contains:
        found = [wd for wd in found if f.name_contains.lower() in wd.body["name"].lower()]
    if f.media_type_contains:
        found = [wd for wd in found if f.media_type_contains.lower() in wd.body["media_type"].lower()]
    if f.is_kind is not None:
        found = [wd for wd in found if wd.body["kind"] == f.is_kind.value]
    if f.tags_by_and:
        found = [wd for wd in found if set(f.tags_by_and) <= set(wd.body["tags"])]
    if f.tags_by_or:
        found = [wd for wd in found if set(f.tags_by_or) & set(wd.body["tags"])]
    if f.is_deletable is not None:
        found = [wd for wd in found if pinexq.is_deletable(wd) == f.is_deletable]
    if f.is_used is not None:
        found = [wd for wd in found if pinexq.is_used(wd) == f.is_used]
    sort = query.sort_by
    keys: dict[str, Callable[[WorkDataView], Any]] = {
        "Name": lambda wd: wd.body["name"].lower(),
        "MediaType": lambda wd: wd.body["media_type"],
        "Kind": lambda wd: wd.body["kind"],
        "SizeInBytes": lambda wd: wd.artifact.size_bytes,
    }
    key = keys.get(sort.property_name or "") if sort else None
    if key is not None and sort is not None:
        return sorted(found, key=key, reverse=sort.sort_type is SortTypes.DESCENDING)
    ascending = sort is not None and sort.sort_type is SortTypes.ASCENDING
    return sorted(found, key=lambda wd: wd.doc.seq, reverse=not ascending)


@router.post("/query", status_code=201)
async def create_query(request: Request) -> Response:
    query = parse_body(WorkDataQueryParameters, await read_json(request))
    page_bounds(query.pagination)
    return created(query_url(Urls(base_url(request)), "/workdata", query))


@router.get("/query/{token}")
def query_page(token: str, request: Request) -> Response:
    query = parse_body(WorkDataQueryParameters, decode_token(token))
    size, index = page_bounds(query.pagination)
    pinexq = pinexq_of(request)
    found = matching(pinexq, query)
    urls = Urls(base_url(request))

    def href(page: int) -> str:
        return query_url(urls, "/workdata", query, size=size, page=page)

    return siren_response(
        query_result(
            "WorkDataQueryResult",
            items=[workdata_entity(pinexq, wd, urls) for wd in found[index * size : (index + 1) * size]],
            total=len(found),
            size=size,
            index=index,
            href_of_page=href,
        )
    )


@router.get("/{workdata_id}")
def get_workdata(workdata_id: str, request: Request) -> Response:
    pinexq = pinexq_of(request)
    return siren_response(workdata_entity(pinexq, pinexq.workdata(workdata_id), Urls(base_url(request))))


@router.get("/{workdata_id}/download")
def download(workdata_id: str, request: Request) -> Response:
    pinexq = pinexq_of(request)
    wd = pinexq.workdata(workdata_id)
    # the content type exactly as the Download link says (no charset added): the SDK compares them
    return Response(pinexq.content(wd), headers={"Content-Type": wd.body["media_type"]})


@router.delete("/{workdata_id}")
def delete(workdata_id: str, request: Request) -> Response:
    """`Delete`: refused (409, naming every blocker) while a job reads it or it is not deletable."""
    pinexq_of(request).delete_workdata(workdata_id)
    return done()


def _offered(request: Request, workdata_id: str, name: str) -> PinexQ:
    pinexq = pinexq_of(request)
    entity = workdata_entity(pinexq, pinexq.workdata(workdata_id), Urls(base_url(request)))
    if entity.action(name) is None:
        raise Conflict(f"WorkData {workdata_id} does not offer {name} now")
    return pinexq


@router.post("/{workdata_id}/EditTags")
async def editclean_tags(workdata_id: str, request: Request) -> Response:
    body = parse_body(SetTagsParameters, await read_json(request))
    pinexq = _offered(request, workdata_id, "EditTags")
    await run_in_threadpool(pinexq.edit_workdata, workdata_id, tags=clean_tags(body.tags))
    return done()


@router.post("/{workdata_id}/Rename")
async def rename(workdata_id: str, request: Request) -> Response:
    body = parse_body(RenameParameters, await read_json(request))
    if not body.new_name or not body.new_name.strip():
        raise InvalidRequest("NewName", "give a name")
    pinexq = _offered(request, workdata_id, "Rename")
    await run_in_threadpool(pinexq.edit_workdata, workdata_id, name=body.new_name.strip())
    return done()


@router.post("/{workdata_id}/EditComment")
async def edit_comment(workdata_id: str, request: Request) -> Response:
    body = parse_body(SetCommentParameters, await read_json(request))
    pinexq = _offered(request, workdata_id, "EditComment")
    await run_in_threadpool(pinexq.edit_workdata, workdata_id, comments=body.comment)
    return done()


_FLAGS: dict[str, dict[str, bool]] = {
    "Hide": {"hidden": True},
    "UnHide": {"hidden": False},
    "AllowDeletion": {"deletable": True},
    "DisallowDeletion": {"deletable": False},
    "MarkAsSecret": {"secret": True},
}


@router.post("/{workdata_id}/{name}")
def set_flag(workdata_id: str, name: str, request: Request) -> Response:
    """The actions without parameters: `Hide`, `UnHide`, `AllowDeletion`, `DisallowDeletion`, `MarkAsSecret`."""
    if name not in _FLAGS:
        raise InvalidRequest("action", f"WorkData has no action {name!r}")
    _offered(request, workdata_id, name).edit_workdata(workdata_id, **_FLAGS[name])
    return done()
