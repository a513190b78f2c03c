"""The emulator's Siren answers: its URL layout, links and actions as PinexQ's SDK expects them, entity and
problem responses.

URLs are absolute, built from the request's own base URL, so a job's `self` href is the same in every answer to one
client (the SDK matches event stream `ResourceLink`s against it byte for byte). Answers carry no cache headers.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from jobnode.platforms.pinexq import PAGE_SIZE_MAX
from jobnode.platforms.pinexq.siren import EVENT_STREAM, JSON, PROBLEM, SIREN, Action, ActionField, Entity, Link
from jobnode.platforms.pinexq.wire import Pagination, QueryResultProperties
from jobnode.service.emulation import InvalidRequest, ServiceError, json_response, validation_error

API = "/api"


def base_url(request: Request) -> str:
    """The URL the client reached this service at (with the prefix it is mounted at), without a trailing slash."""
    return str(request.base_url).rstrip("/")


class Urls:
    """Where each resource is, for one request's base URL."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.api = base + API

    def of(self, path: str) -> str:
        return self.api + path

    def job(self, job_id: str) -> str:
        return f"{self.api}/jobs/{job_id}"

    def workdata(self, workdata_id: str) -> str:
        return f"{self.api}/workdata/{workdata_id}"

    def step(self, step_id: str) -> str:
        return f"{self.api}/processingsteps/{step_id}"

    @staticmethod
    def last_segment(url: str, field: str) -> str:
        """The id at the end of a resource URL a client sent back."""
        segment = url.rstrip("/").rpartition("/")[2].partition("?")[0]
        if not segment:
            raise InvalidRequest(field, f"{url!r} is not the URL of a resource of this service")
        return segment


def link(rel: str, href: str, *, media_type: str = SIREN, title: str | None = None) -> Link:
    return Link(rel=[rel], href=href, type=media_type, title=title)


def action(name: str, href: str, *, method: str = "POST", parameters: str | None = None) -> Action:
    """An action; `parameters` names the body's type (the action then has one JSON field, as PinexQ's have), none
    means the action takes no body (and then has no fields, which the SDK requires)."""
    if parameters is None:
        return Action(name=name, href=href, method=method, title=name)
    return Action(
        name=name,
        href=href,
        method=method,
        title=name,
        type=JSON,
        fields=[ActionField(name=parameters, type=JSON, classes=[parameters])],
    )


def upload_action(name: str, href: str, *, parameters: str, max_bytes: int) -> Action:
    """A `multipart/form-data` upload: the file field first, then the JSON field its parameters travel in."""
    return Action(
        name=name,
        href=href,
        method="POST",
        title=name,
        type="multipart/form-data",
        classes=["FileUploadActionWithParameter"],
        fields=[
            ActionField(
                name="upload-file", type="file", accept="*/*", max_file_size_bytes=max_bytes, allow_multiple=False
            ),
            ActionField(name=parameters, type=JSON, classes=[parameters]),
        ],
    )


def properties(model: BaseModel) -> dict[str, Any]:
    """An entity's properties from their wire model (unset ones left out)."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def siren_response(entity: Entity, status: int = 200) -> Response:
    """An entity, as `application/vnd.siren+json` with no parameters (the SDK parses nothing else)."""
    return json_response(entity.to_wire(), status, media_type=SIREN)


def created(location: str) -> Response:
    """What an action that creates something answers: `201` with the new resource's URL."""
    return Response(status_code=201, headers={"Location": location})


def done() -> Response:
    """What any other action answers: `200`, no body (the SDK treats anything but 200 and 201 as an error)."""
    return Response(status_code=200)


def problem(error: ServiceError) -> Response:
    """An RFC 7807 problem: `type`, `title`, `status`, `detail`; `errors` names each bad field, `blockers` each
    reason a deletion was refused (their `kind`, `id`, `reason` and `by`, as jobnode's lineage planner says)."""
    status = 400 if error.status == 422 else error.status
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": error.message}
    details = error.details
    if isinstance(details, list) and details and all(isinstance(d, dict) and "field" in d for d in details):
        errors: dict[str, list[str]] = {}
        for d in details:
            errors.setdefault(str(d["field"]), []).append(str(d.get("message", "")))
        body["errors"] = errors
    elif isinstance(details, dict):
        if "field" in details:
            body["errors"] = {str(details["field"]): [error.message]}
        if "blockers" in details:
            body["blockers"] = details["blockers"]
    return json_response(body, status, media_type=PROBLEM)


def parse_body(model: type[BaseModel], raw: Any, *, field: str = "body") -> Any:
    """An action's body as its wire model; a wrong field is a 400 naming it."""
    if not isinstance(raw, dict):
        raise InvalidRequest(field, "send a JSON object")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(list(exc.errors()), status=400) from None


def encode_token(value: dict[str, Any]) -> str:
    """A query's parameters as the last segment of its URL: queries need no storage and survive restarts."""
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ServiceError(f"no query {token[:40]!r}; create one with its query action", status=404) from None
    if not isinstance(value, dict):
        raise ServiceError(f"no query {token[:40]!r}; create one with its query action", status=404)
    return value


__all__ = [
    "EVENT_STREAM",
    "JSON",
    "SIREN",
    "Urls",
    "action",
    "base_url",
    "clean_tags",
    "created",
    "decode_token",
    "done",
    "encode_token",
    "link",
    "page_bounds",
    "parse_body",
    "problem",
    "properties",
    "query_result",
    "query_url",
    "siren_response",
    "upload_action",
]


#: the page size of a query that names none
DEFAULT_PAGE_SIZE = 20


def page_bounds(pagination: Pagination | None) -> tuple[int, int]:
    """(size, index) of the page a query asks for; `PageOffset` counts pages."""
    size = pagination.page_size if pagination else None
    index = pagination.page_offset if pagination else None
    if size is not None and not 1 <= size <= PAGE_SIZE_MAX:
        raise InvalidRequest("Pagination.PageSize", f"give a page size from 1 to {PAGE_SIZE_MAX}")
    if index is not None and index < 0:
        raise InvalidRequest("Pagination.PageOffset", "give a page number from 0 on")
    return size or DEFAULT_PAGE_SIZE, index or 0


def query_url(urls: Urls, path: str, query: BaseModel | None = None, *, size: int = 0, page: int = 0) -> str:
    """The URL of a query's result (page `page` of `size` items, when `size` is given): the query itself is the
    URL's last segment."""
    wire: dict[str, Any] = query.model_dump(mode="json", by_alias=True, exclude_none=True) if query else {}
    if size:
        wire["Pagination"] = {"PageSize": size, "PageOffset": page}
    return urls.of(f"{path}/query/{encode_token(wire)}")


def clean_tags(tags: list[str] | None) -> list[str]:
    """Tags as given, trimmed, each once; an empty one is refused."""
    cleaned = [t.strip() for t in tags or []]
    if any(not t for t in cleaned):
        raise InvalidRequest("Tags", "a tag must not be empty")
    return list(dict.fromkeys(cleaned))


def query_result(
    kind: str,
    *,
    items: list[Entity],
    total: int,
    size: int,
    index: int,
    href_of_page: Callable[[int], str],
) -> Entity:
    """A page of a query: its items embedded (`rel: item`), the counts, and links to its other pages.

    `href_of_page(index)` is the URL of page `index` of the same query."""
    last = max(0, (total - 1) // size)
    links = [link("self", href_of_page(index)), link("first", href_of_page(0)), link("last", href_of_page(last))]
    if index > 0:
        links.append(link("previous", href_of_page(min(index - 1, last))))
    if index < last:
        links.append(link("next", href_of_page(index + 1)))
    return Entity(
        classes=[kind],
        title=kind,
        properties=properties(
            QueryResultProperties(
                total_entities=total,
                current_entities_count=len(items),
                previous_entities_count=min(total, index * size),
            )
        ),
        entities=[item.model_copy(update={"rel": ["item"]}) for item in items],
        links=links,
    )
