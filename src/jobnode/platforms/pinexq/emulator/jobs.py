"""Jobs: the jobs root and its actions (create, create a sub-job, rapid setup, query), each job with the actions its
state allows, its data slots, its log and its metrics.

The state machine is in the actions a job offers (PinexQ's SDK reads them): `SelectProcessing`,
`ConfigureProcessing` and the input slot's actions until the job starts; `StartProcessing` only when it is
`ReadyForProcessing`; `Delete` unless it is `Pending` or `Processing`; `SetJobToErrorState` until it has ended.
An action the job does not offer now is refused with 409.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from jobnode.core.backend import LogQuery
from jobnode.platforms.pinexq.emulator.context import (
    INPUT_SLOT,
    NDJSON,
    OUTPUT_SLOT,
    RUNNING_STATES,
    JobView,
    PinexQ,
    editable,
    pinexq_of,
    step_id,
)
from jobnode.platforms.pinexq.emulator.entrypoint import USER_ID
from jobnode.platforms.pinexq.emulator.hypermedia import (
    JSON,
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
)
from jobnode.platforms.pinexq.emulator.workdata import workdata_entity
from jobnode.platforms.pinexq.mapping import LEVEL_NAMES
from jobnode.platforms.pinexq.siren import Action, Entity
from jobnode.platforms.pinexq.wire import (
    CreateJobParameters,
    CreateSubJobParameters,
    InputDataSlotProperties,
    JobFilter,
    JobProperties,
    JobQueryParameters,
    JobStates,
    LogProperties,
    MetricsProperties,
    OutputDataSlotProperties,
    ProcessingView,
    RapidJobSetupParameters,
    RenameParameters,
    SelectProcessingParameters,
    SelectWorkDataCollectionParameters,
    SelectWorkDataParameters,
    SetJobErrorStateParameters,
    SetTagsParameters,
    SortTypes,
    utc,
)
from jobnode.service.emulation import Conflict, InvalidRequest, NotFound, read_json
from jobnode.service.views import iso

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

_LEVELS_BY_NAME = {name.lower(): level for level, name in LEVEL_NAMES.items()}


def _id_of(url: str | None, field: str) -> str:
    if not url:
        raise InvalidRequest(field, "required: give the URL")
    return Urls.last_segment(url, field)


# -- the job entity -------------------------------------------------------------------------------------------------


def job_entity(pinexq: PinexQ, view: JobView, urls: Urls) -> Entity:
    body, record = view.body, view.record
    href = urls.job(view.id)
    chosen = body.get("step")
    processing = None
    if chosen:
        description = view.step.description if view.step is not None else None
        processing = ProcessingView(
            title=description or chosen["name"],
            description=description or None,
            function_name=chosen["name"],
            version=chosen["version"],
            number_of_input_data_slots=1,
            number_of_output_data_slots=1,
        )
    parameters = body.get("parameters")
    props = JobProperties(
        name=body["name"],
        owner_id=USER_ID,
        created_by=USER_ID,
        state=view.state,
        tags=body["tags"],
        hidden=body["hidden"],
        output_is_deletable=body["output_deletable"],
        created_at=utc(view.doc.created),
        scheduled_at=utc(body.get("scheduled_at")),
        started_at=utc(record.started_at) if record else None,
        completed_at=utc(record.ended_at if record else body.get("errored_at")),
        error_description=body.get("error") or body.get("error_description"),
        processing=processing,
        result=body.get("result"),
        configured_parameters=json.dumps(parameters) if parameters is not None else None,
    )
    links = [link("self", href), link("Logs", f"{href}/logs"), link("Metrics", f"{href}/metrics")]
    if body.get("parent"):
        links.append(link("ParentJob", urls.job(body["parent"])))
    if chosen:
        links.append(link("SelectedProcessingStep", urls.step(step_id(chosen["name"], chosen["version"]))))
    return Entity(
        classes=["Job"],
        title="Job",
        properties=properties(props),
        entities=_slots(pinexq, view, urls) if chosen else None,
        actions=_actions(view, href),
        links=links,
    )


def _actions(view: JobView, href: str) -> list[Action]:
    body, state = view.body, view.state
    hidden, deletable = body["hidden"], body["output_deletable"]
    out = [
        action("EditTags", f"{href}/EditTags", parameters="SetJobTagsParameters"),
        action("Rename", f"{href}/Rename", parameters="RenameJobParameters"),
        action("UnHide" if hidden else "Hide", f"{href}/{'UnHide' if hidden else 'Hide'}"),
        action(
            "DisallowOutputDataDeletion" if deletable else "AllowOutputDataDeletion",
            f"{href}/{'DisallowOutputDataDeletion' if deletable else 'AllowOutputDataDeletion'}",
        ),
    ]
    if state not in RUNNING_STATES:
        out.insert(0, action("Delete", href, method="DELETE"))
    if editable(view):
        out.append(action("SelectProcessing", f"{href}/SelectProcessing", parameters="SelectProcessingParameters"))
        if body.get("step"):
            out.append(
                action("ConfigureProcessing", f"{href}/ConfigureProcessing", parameters="ConfigureProcessingParameters")
            )
    if state is JobStates.READY_FOR_PROCESSING:
        out.append(action("StartProcessing", f"{href}/StartProcessing"))
    if state not in (JobStates.COMPLETED, JobStates.ERROR, JobStates.CANCELED):
        out.append(action("SetJobToErrorState", f"{href}/SetJobToErrorState", parameters="SetJobErrorStateParameters"))
    return out


def _slots(pinexq: PinexQ, view: JobView, urls: Urls) -> list[Entity]:
    href = f"{urls.job(view.id)}/InputDataSlots/0"
    selected = []
    for wd_id in view.body["inputs"]:
        try:
            selected.append(workdata_entity(pinexq, pinexq.workdata(wd_id), urls, rel="Selected"))
        except NotFound:
            continue
    slot_actions = None
    if editable(view):
        slot_actions = [
            action("SelectWorkData", f"{href}/SelectWorkData", parameters="SelectWorkDataForDataSlotParameters"),
            action(
                "SelectWorkDataCollection",
                f"{href}/SelectWorkDataCollection",
                parameters="SelectWorkDataCollectionForDataSlotParameters",
            ),
        ]
        if view.body["inputs"]:
            slot_actions.append(action("Clear", f"{href}/Clear"))
    assigned = []
    for art in view.record.outputs if view.record is not None else ():
        if pinexq.records.get("workdata", art.id) is not None:
            assigned.append(workdata_entity(pinexq, pinexq.workdata(art.id), urls, rel="Assigned"))
    return [
        Entity(
            classes=["InputDataSlot"],
            rel=["InputDataSlot"],
            title="Input",
            properties=properties(
                InputDataSlotProperties(
                    name=INPUT_SLOT,
                    title="Input",
                    description="WorkData whose records are the job's items (none: its parameters are its item)",
                    media_type=JSON,
                    is_configured=True,
                )
            ),
            entities=selected,
            actions=slot_actions,
        ),
        Entity(
            classes=["OutputDataSlot"],
            rel=["OutputDataSlot"],
            title="Results",
            properties=properties(
                OutputDataSlotProperties(
                    name=OUTPUT_SLOT,
                    title="Results",
                    description="One result per item, as JSON lines",
                    media_type=NDJSON,
                )
            ),
            entities=assigned,
        ),
    ]


# -- the jobs root ----------------------------------------------------------------------------------------------------


@router.get("")
def root(request: Request) -> Response:
    urls = Urls(base_url(request))
    return siren_response(
        Entity(
            classes=["JobsRoot"],
            title="Jobs",
            properties={},
            actions=[
                action("CreateJob", urls.of("/jobs"), parameters="CreateJobParameters"),
                action("CreateSubJob", urls.of("/jobs/CreateSubJob"), parameters="CreateSubJobParameters"),
                action("RapidSetupJob", urls.of("/jobs/RapidSetupJob"), parameters="RapidJobSetupParameters"),
                action("CreateJobQuery", urls.of("/jobs/query"), parameters="JobQueryParameters"),
            ],
            links=[link("self", urls.of("/jobs")), link("all", query_url(urls, "/jobs"))],
        )
    )


@router.post("", status_code=201)
async def create_job(request: Request) -> Response:
    body = parse_body(CreateJobParameters, await read_json(request))
    if body.folder:
        raise InvalidRequest("Folder", "this service has no folders; leave the folder out")
    doc = await run_in_threadpool(pinexq_of(request).create_job, body.name)
    return created(Urls(base_url(request)).job(doc.id))


@router.post("/CreateSubJob", status_code=201)
async def create_sub_job(request: Request) -> Response:
    body = parse_body(CreateSubJobParameters, await read_json(request))
    parent = _id_of(body.parent_job_url, "ParentJobUrl")
    doc = await run_in_threadpool(lambda: pinexq_of(request).create_job(body.name, parent=parent))
    return created(Urls(base_url(request)).job(doc.id))


@router.post("/RapidSetupJob", status_code=201)
async def rapid_setup(request: Request) -> Response:
    body = parse_body(RapidJobSetupParameters, await read_json(request))
    pinexq = pinexq_of(request)
    step = pinexq.step(_id_of(body.processing_step_url, "ProcessingStepUrl"), field="ProcessingStepUrl")
    try:
        parameters = json.loads(body.parameters) if body.parameters else {}
    except ValueError as exc:
        raise InvalidRequest(
            "Parameters", f"not JSON text ({exc}); send the parameters as a JSON object in text"
        ) from None
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise InvalidRequest("Parameters", "send the parameters as a JSON object (in text)")
    inputs: list[str] = []
    for slot in body.input_data_slots or []:
        if slot.index != 0:
            raise InvalidRequest("InputDataSlots.Index", f"no input slot {slot.index}; a step here has one, index 0")
        inputs += [_id_of(url, "InputDataSlots.WorkDataUrls") for url in slot.work_data_urls or []]
    parent = _id_of(body.parent_job_url, "ParentJobUrl") if body.parent_job_url else None
    job_id = await run_in_threadpool(
        lambda: pinexq.rapid_setup(
            body.name,
            step=step,
            parameters=parameters,
            tags=clean_tags(body.tags),
            inputs=inputs,
            parent=parent,
            output_deletable=body.allow_output_data_deletion is not False,
            start=bool(body.start),
        )
    )
    return created(Urls(base_url(request)).job(job_id))


# -- queries --------------------------------------------------------------------------------------------------------


def select(pinexq: PinexQ, query: JobQueryParameters, index: int, size: int) -> tuple[list[JobView], int]:
    """Page `index` (of `size` jobs) of the jobs a query names, newest first unless it says otherwise, and how many
    it names in all. Only the jobs of the page are read from the engine, unless the query filters or sorts by
    what only the engine knows (the state, the completion time)."""
    f = query.filter or JobFilter()
    docs = pinexq.records.all("job")
    if not f.show_hidden:
        docs = [d for d in docs if not d.body["hidden"]]
    if f.name is not None:
        docs = [d for d in docs if d.body["name"] == f.name]
    if f.tags_by_and:
        docs = [d for d in docs if set(f.tags_by_and) <= set(d.body["tags"])]
    if f.tags_by_or:
        docs = [d for d in docs if set(f.tags_by_or) & set(d.body["tags"])]
    if f.created_before is not None:
        docs = [d for d in docs if d.created < f.created_before.timestamp()]
    if f.created_after is not None:
        docs = [d for d in docs if d.created > f.created_after.timestamp()]
    if f.is_sub_job is not None:
        docs = [d for d in docs if bool(d.body.get("parent")) == f.is_sub_job]
    if f.parent_job_url:
        parent = _id_of(f.parent_job_url, "Filter.ParentJobUrl")
        docs = [d for d in docs if d.body.get("parent") == parent]
    if f.processing_step_url:
        ps = _id_of(f.processing_step_url, "Filter.ProcessingStepUrl")
        docs = [
            d for d in docs if d.body.get("step") and step_id(d.body["step"]["name"], d.body["step"]["version"]) == ps
        ]
    if f.work_data_url:
        wd = _id_of(f.work_data_url, "Filter.WorkDataUrl")
        docs = [d for d in docs if wd in d.body["inputs"]]
    sort = query.sort_by
    descending = sort is not None and sort.sort_type is SortTypes.DESCENDING
    page = slice(index * size, (index + 1) * size)
    if sort is not None and sort.property_name == "CompletedAt":
        views = [v for v in pinexq.views(docs) if f.state is None or v.state is f.state]
        ended = sorted(
            (v for v in views if v.record is not None and v.record.ended_at is not None),
            key=lambda v: v.record.ended_at if v.record is not None and v.record.ended_at else 0.0,
            reverse=descending,
        )
        ordered = ended + [v for v in views if v not in ended]
        return ordered[page], len(ordered)
    if sort is not None and sort.property_name == "Name":
        docs.sort(key=lambda d: d.body["name"].lower(), reverse=descending)
    else:
        docs.sort(key=lambda d: d.seq, reverse=sort is None or sort.sort_type is not SortTypes.ASCENDING)
    if f.state is not None:
        views = [v for v in pinexq.views(docs) if v.state is f.state]
        return views[page], len(views)
    return pinexq.views(docs[page]), len(docs)


@router.post("/query", status_code=201)
async def create_query(request: Request) -> Response:
    query = parse_body(JobQueryParameters, await read_json(request))
    page_bounds(query.pagination)
    return created(query_url(Urls(base_url(request)), "/jobs", query))


@router.get("/query/{token}")
def query_page(token: str, request: Request) -> Response:
    query = parse_body(JobQueryParameters, decode_token(token))
    size, index = page_bounds(query.pagination)
    pinexq = pinexq_of(request)
    found, total = select(pinexq, query, index, size)
    urls = Urls(base_url(request))

    def href(page: int) -> str:
        return query_url(urls, "/jobs", query, size=size, page=page)

    return siren_response(
        query_result(
            "JobQueryResult",
            items=[job_entity(pinexq, v, urls) for v in found],
            total=total,
            size=size,
            index=index,
            href_of_page=href,
        )
    )


# -- one job --------------------------------------------------------------------------------------------------------


@router.get("/{job_id}")
def get_job(job_id: str, request: Request) -> Response:
    pinexq = pinexq_of(request)
    return siren_response(job_entity(pinexq, pinexq.job(job_id), Urls(base_url(request))))


@router.delete("/{job_id}")
def delete_job(job_id: str, request: Request) -> Response:
    """`Delete`: refused (409, naming every blocker) while the job runs, has output WorkData or has sub-jobs."""
    _offered(request, job_id, "Delete")
    pinexq_of(request).delete_job(job_id)
    return done()


def _offered(request: Request, job_id: str, name: str) -> PinexQ:
    pinexq = pinexq_of(request)
    view = pinexq.job(job_id)
    if all(a.name != name for a in _actions(view, Urls(base_url(request)).job(job_id))):
        raise Conflict(f"job {job_id} is {view.state.value}: it does not offer {name} now")
    return pinexq


Handler = Callable[[PinexQ, str, Any], None]


def _select_processing(pinexq: PinexQ, job_id: str, raw: Any) -> None:
    body = parse_body(SelectProcessingParameters, raw)
    pinexq.select_processing(
        job_id, pinexq.step(_id_of(body.processing_step_url, "ProcessingStepUrl"), field="ProcessingStepUrl")
    )


def _configure(pinexq: PinexQ, job_id: str, raw: Any) -> None:
    if not isinstance(raw, dict):
        raise InvalidRequest("body", "send the parameters as a JSON object")
    pinexq.configure(job_id, raw)


def _set_error(pinexq: PinexQ, job_id: str, raw: Any) -> None:
    message = parse_body(SetJobErrorStateParameters, raw).message
    pinexq.set_error(job_id, message or "set to error state")


def _start(pinexq: PinexQ, job_id: str, raw: Any) -> None:
    pinexq.start(job_id)


def _edit_tags(pinexq: PinexQ, job_id: str, raw: Any) -> None:
    pinexq.edit_job(job_id, tags=clean_tags(parse_body(SetTagsParameters, raw).tags))


def _rename(pinexq: PinexQ, job_id: str, raw: Any) -> None:
    name = parse_body(RenameParameters, raw).new_name
    if not name or not name.strip():
        raise InvalidRequest("NewName", "give a name")
    pinexq.edit_job(job_id, name=name.strip())


def _flag(**changes: bool) -> Handler:
    def handle(pinexq: PinexQ, job_id: str, raw: Any) -> None:
        pinexq.edit_job(job_id, **changes)

    return handle


HANDLERS: dict[str, Handler] = {
    "SelectProcessing": _select_processing,
    "ConfigureProcessing": _configure,
    "StartProcessing": _start,
    "EditTags": _edit_tags,
    "Rename": _rename,
    "Hide": _flag(hidden=True),
    "UnHide": _flag(hidden=False),
    "AllowOutputDataDeletion": _flag(output_deletable=True),
    "DisallowOutputDataDeletion": _flag(output_deletable=False),
    "SetJobToErrorState": _set_error,
}
#: the actions that take a body
WITH_BODY = frozenset({"SelectProcessing", "ConfigureProcessing", "EditTags", "Rename", "SetJobToErrorState"})


async def _run(request: Request, job_id: str, name: str, handler: Handler, with_body: bool) -> Response:
    raw = await read_json(request) if with_body else None
    pinexq = await run_in_threadpool(_offered, request, job_id, name)
    await run_in_threadpool(handler, pinexq, job_id, raw)
    return done()


@router.post("/{job_id}/InputDataSlots/{index}/{name}")
async def slot_action(job_id: str, index: int, name: str, request: Request) -> Response:
    """`SelectWorkData`, `SelectWorkDataCollection` and `Clear` of the input slot (index 0)."""
    if index != 0:
        raise NotFound(f"job {job_id} has no input slot {index}")
    if name == "SelectWorkData":
        url = parse_body(SelectWorkDataParameters, await read_json(request)).work_data_url
        ids = [_id_of(url, "WorkDataUrl")]
        field = "WorkDataUrl"
    elif name == "SelectWorkDataCollection":
        urls = parse_body(SelectWorkDataCollectionParameters, await read_json(request)).work_data_urls
        if not urls:
            raise InvalidRequest("WorkDataUrls", "name at least one WorkData (Clear empties the slot)")
        ids = [_id_of(url, "WorkDataUrls") for url in urls]
        field = "WorkDataUrls"
    elif name == "Clear":
        ids, field = [], "WorkDataUrls"
    else:
        raise NotFound(f"an input slot has no action {name!r}")
    pinexq = pinexq_of(request)
    await run_in_threadpool(pinexq.select_inputs, job_id, ids, field)
    return done()


@router.post("/{job_id}/{name}")
async def job_action(job_id: str, name: str, request: Request) -> Response:
    handler = HANDLERS.get(name)
    if handler is None:
        raise NotFound(f"a job has no action {name!r}")
    return await _run(request, job_id, name, handler, name in WITH_BODY)


# -- log and metrics ------------------------------------------------------------------------------------------------


def log_entry(row: Any) -> dict[str, Any]:
    """One log entry of the emulator (PinexQ leaves their shape free)."""
    return {
        "Id": str(row.id),
        "Timestamp": iso(row.time / 1_000_000),
        "Level": LEVEL_NAMES[row.log_level],
        "Kind": row.kind,
        "Item": row.item,
        "Status": row.status,
        "DurationMs": row.duration_ms,
        "Message": row.message,
    }


@router.get("/{job_id}/logs")
def job_log(
    job_id: str,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000, description="entries on a page")] = 100,
    order: Literal["asc", "desc"] = "asc",
    cursor: str | None = None,
    after: datetime | None = None,
    before: datetime | None = None,
    level: str | None = None,
    kind: str | None = None,
    at: Annotated[int, Query(ge=0, description="entries before this page")] = 0,
) -> Response:
    """A page of the job's log (the service's entries), with a `next` link while there are more. The query takes
    `limit`, `order` (`asc`, `desc`), `after` and `before` (ISO times, exclusive), `level` (the lowest level shown)
    and `kind`."""
    pinexq = pinexq_of(request)
    view = pinexq.job(job_id)
    min_level = None
    if level is not None:
        min_level = _LEVELS_BY_NAME.get(level.lower())
        if min_level is None:
            raise InvalidRequest("level", f"unknown level {level!r}; use {', '.join(LEVEL_NAMES.values())}")
    rows: list[Any] = []
    next_cursor = None
    if view.record is not None:
        page = pinexq.service.logs(
            view.record.id,
            LogQuery(
                after_time=after,
                before_time=before,
                min_level=min_level,
                kind=kind,
                limit=limit,
                cursor=cursor,
                order=order,
            ),
        )
        rows, next_cursor = page.rows, page.next_cursor
    links = [link("self", str(request.url))]
    if next_cursor:
        following = request.url.include_query_params(cursor=next_cursor, at=at + len(rows), limit=limit)
        links.append(link("next", str(following)))
    total = None if next_cursor else at + len(rows)
    return siren_response(
        Entity(
            classes=["log"],
            title="Log",
            properties=properties(
                LogProperties(current=at, total=total, limit=limit, logs=[log_entry(r) for r in rows])
            ),
            links=links,
        )
    )


@router.get("/{job_id}/metrics")
def job_metrics(job_id: str, request: Request) -> Response:
    """The job's counters on the engine (items and batches)."""
    pinexq = pinexq_of(request)
    view = pinexq.job(job_id)
    metrics: dict[str, Any] = {}
    if view.record is not None:
        r = view.record
        metrics = {
            "ItemsTotal": r.items_total,
            "ItemsProcessed": r.items_processed,
            "ItemsFailed": r.items_failed,
            "BatchesTotal": r.batches_total,
            "BatchesSucceeded": r.batches_succeeded,
            "BatchesFailed": r.batches_failed,
            "BatchesRunning": r.batches_running,
        }
    return siren_response(
        Entity(
            classes=["metrics"],
            title="Metrics",
            properties=properties(MetricsProperties(worker="jobnode" if view.started else None, metrics=metrics)),
            links=[link("self", f"{Urls(base_url(request)).job(job_id)}/metrics")],
        )
    )


__all__ = ["job_entity", "router"]
