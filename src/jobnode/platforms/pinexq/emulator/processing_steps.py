"""Processing steps: the service's steps, each version its own PinexQ processing step, and their queries.

A query that names one function exactly and neither a version nor a sort order asks for one step (that is what
`Job.select_processing(function_name=...)` sends); when the function has several versions it is refused with the
list of them, so that a version must be chosen. `Version: "*"` matches every version, highest first.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from jobnode.platforms.pinexq.emulator.context import INPUT_SLOT, NDJSON, OUTPUT_SLOT, PinexQ, pinexq_of, step_id
from jobnode.platforms.pinexq.emulator.hypermedia import (
    JSON,
    Urls,
    action,
    base_url,
    created,
    decode_token,
    link,
    page_bounds,
    parse_body,
    properties,
    query_result,
    query_url,
    siren_response,
)
from jobnode.platforms.pinexq.siren import Entity
from jobnode.platforms.pinexq.wire import (
    DataSpecification,
    ProcessingStepFilter,
    ProcessingStepProperties,
    ProcessingStepQueryParameters,
    SortTypes,
)
from jobnode.service.emulation import InvalidRequest, json_response, read_json
from jobnode.service.steps import Step

router = APIRouter(prefix="/api/processingsteps", tags=["processing steps"])

INPUT_SPEC = DataSpecification(
    name=INPUT_SLOT,
    title="Input",
    description="WorkData whose records are the job's items (none: the job is one call, its parameters its item)",
    media_type=JSON,
    is_collection=True,
    min_slots=0,
)
OUTPUT_SPEC = DataSpecification(
    name=OUTPUT_SLOT,
    title="Results",
    description="One result per item, as JSON lines (a job over input WorkData only)",
    media_type=NDJSON,
    is_collection=False,
    min_slots=0,
    max_slots=1,
)


def version_key(version: str) -> tuple[tuple[int, Any], ...]:
    """Natural order of versions: "10" after "9", "1.10.0" after "1.9.0"."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.\-_+]", version))


def defaults_of(step: Step) -> dict[str, Any] | None:
    """The step's parameters when none are given, or None when some must be given."""
    try:
        return step.params_model.model_validate({}).model_dump(mode="json")
    except ValidationError:
        return None


def step_entity(step: Step, urls: Urls) -> Entity:
    ps = step_id(step.name, step.version)
    defaults = defaults_of(step)
    props = ProcessingStepProperties(
        title=step.description or step.name,
        version=step.version,
        function_name=step.name,
        short_description=step.description or None,
        has_parameters=bool(step.params_model.model_fields),
        is_public=True,
        tags=[],
        hidden=False,
        is_deprecated=False,
        parameter_schema=json.dumps(step.params_model.model_json_schema()),
        default_parameters=json.dumps(defaults) if defaults is not None else None,
        input_data_slot_specification=[INPUT_SPEC],
        output_data_slot_specification=[OUTPUT_SPEC],
        deployment_state="Platform",
    )
    return Entity(
        classes=["ProcessingStep"],
        title=step.description or step.name,
        properties=properties(props),
        links=[link("self", urls.step(ps)), link("Download", f"{urls.step(ps)}/download", media_type=JSON)],
    )


def matching(pinexq: PinexQ, query: ProcessingStepQueryParameters) -> list[Step]:
    """The steps a query names, in its order (default: by name, highest version first)."""
    f = query.filter or ProcessingStepFilter()
    steps = pinexq.steps()
    if f.function_name:
        if (f.function_name_match_type or "Contains") == "MatchExact":
            steps = [s for s in steps if s.name == f.function_name]
        else:
            steps = [s for s in steps if f.function_name.lower() in s.name.lower()]
    if f.title_contains:
        steps = [s for s in steps if f.title_contains.lower() in (s.description or s.name).lower()]
    if f.version and f.version != "*":
        steps = [s for s in steps if s.version == f.version]
    if f.tags_by_and or f.tags_by_or:
        steps = []  # the service's steps carry no tags
    exact_one = f.function_name and f.function_name_match_type == "MatchExact"
    if exact_one and f.version is None and query.sort_by is None and len({s.version for s in steps}) > 1:
        versions = ", ".join(sorted((s.version for s in steps), key=version_key, reverse=True))
        raise InvalidRequest(
            "Filter.Version",
            f"processing step {f.function_name!r} has several versions ({versions}); select one by its version",
        )
    sort = query.sort_by
    descending = sort is not None and sort.sort_type is SortTypes.DESCENDING
    if sort is not None and sort.property_name == "Title":
        return sorted(steps, key=lambda s: (s.description or s.name).lower(), reverse=descending)
    if sort is not None and sort.property_name == "Version":
        return sorted(steps, key=lambda s: version_key(s.version), reverse=descending)
    by_version = sorted(steps, key=lambda s: version_key(s.version), reverse=True)
    return sorted(by_version, key=lambda s: s.name)


@router.get("")
def root(request: Request) -> Response:
    urls = Urls(base_url(request))
    everything = query_url(urls, "/processingsteps")
    return siren_response(
        Entity(
            classes=["ProcessingStepRoot"],
            title="Processing steps",
            properties={},
            actions=[
                action(
                    "CreateProcessingStepQuery",
                    urls.of("/processingsteps/query"),
                    parameters="ProcessingStepQueryParameters",
                )
            ],
            links=[link("self", urls.of("/processingsteps")), link("all", everything)],
        )
    )


@router.post("/query", status_code=201)
async def create_query(request: Request) -> Response:
    query = parse_body(ProcessingStepQueryParameters, await read_json(request))
    page_bounds(query.pagination)
    matching(pinexq_of(request), query)  # a query that cannot be answered is refused now, not when it is read
    return created(query_url(Urls(base_url(request)), "/processingsteps", query))


@router.get("/query/{token}")
def query_page(token: str, request: Request) -> Response:
    query = parse_body(ProcessingStepQueryParameters, decode_token(token))
    size, index = page_bounds(query.pagination)
    steps = matching(pinexq_of(request), query)
    urls = Urls(base_url(request))

    def href(page: int) -> str:
        return query_url(urls, "/processingsteps", query, size=size, page=page)

    page = steps[index * size : (index + 1) * size]
    return siren_response(
        query_result(
            "ProcessingStepQueryResult",
            items=[step_entity(s, urls) for s in page],
            total=len(steps),
            size=size,
            index=index,
            href_of_page=href,
        )
    )


@router.get("/{ps_id}")
def get_step(ps_id: str, request: Request) -> Response:
    return siren_response(step_entity(pinexq_of(request).step(ps_id), Urls(base_url(request))))


@router.get("/{ps_id}/download")
def download(ps_id: str, request: Request) -> Response:
    """The step's manifest: what the service knows of it (name, version, description, parameter schema)."""
    return json_response(pinexq_of(request).step(ps_id).describe())
