"""Siren hypermedia as PinexQ's Job-Management API speaks it, and a small client that walks it.

An entity has classes, properties, embedded entities, links (found by relation) and actions (run by name). The
models are strict (`extra="forbid"`), as PinexQ's SDK parses them: the emulator builds every answer from them, so
nothing it sends can carry a key the SDK refuses, and the backend reads the platform's answers with them.

`SirenClient` is the backend's side: it reads entities (only `application/vnd.siren+json`), follows links by
relation and runs actions by name with the method and href the server put in the entity. It never builds a URL
except the one entry point, `api/EntryPoint` under the platform's URL. Errors are `application/problem+json`
(RFC 7807), turned into jobnode's errors by `parse_problem`.

Example:
    ```python
    siren = SirenClient(transport)
    entry = await siren.entry_point()
    jobs_root = await siren.follow(entry, "JobsRoot")
    location = await siren.act(jobs_root, "CreateJob", {"Name": "nightly"})   # the new job's URL
    job = await siren.get(location)
    ```
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jobnode.core.errors import JobnodeError, TransportError
from jobnode.core.transport import Transport, parse_error_body

SIREN = "application/vnd.siren+json"
PROBLEM = "application/problem+json"
JSON = "application/json"
EVENT_STREAM = "text/event-stream"
#: the one path a client builds itself, under the platform's URL
ENTRY_POINT = "api/EntryPoint"


class Siren(BaseModel):
    """A part of a Siren document: unknown keys are refused, as PinexQ's SDK refuses them."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON of this part with its wire names; unset parts are left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ActionField(Siren):
    name: str = Field(min_length=1)
    type: str | None = None
    value: Any = None
    classes: list[str] | None = Field(default=None, alias="class")
    title: str | None = None
    accept: str | None = None
    max_file_size_bytes: int | None = Field(default=None, alias="maxFileSizeBytes")
    allow_multiple: bool | None = Field(default=None, alias="allowMultiple")


class Action(Siren):
    """Something a client may do to an entity: `fields` present means it takes a body (PinexQ names the body's type
    in the one field), absent means it takes none."""

    name: str = Field(min_length=1)
    href: str = Field(min_length=1)
    classes: list[str] | None = Field(default=None, alias="class")
    method: str | None = None
    title: str | None = None
    type: str | None = None
    fields: list[ActionField] | None = None


class Link(Siren):
    href: str = Field(min_length=1)
    rel: list[str]
    classes: list[str] | None = Field(default=None, alias="class")
    title: str | None = None
    type: str | None = None


class EmbeddedLink(Siren):
    """An embedded entity given by reference only."""

    classes: list[str] | None = Field(default=None, alias="class")
    rel: list[str]
    href: str = Field(min_length=1)
    title: str | None = None
    type: str | None = None


class Entity(Siren):
    classes: list[str] | None = Field(default=None, alias="class")
    rel: list[str] | None = None
    title: str | None = None
    properties: dict[str, Any] | None = None
    entities: list[Entity | EmbeddedLink] | None = None
    actions: list[Action] | None = None
    links: list[Link] | None = None

    def has_class(self, name: str) -> bool:
        return name in (self.classes or [])

    def link(self, rel: str) -> Link | None:
        """The first link with relation `rel`."""
        return next((link for link in self.links or [] if rel in link.rel), None)

    def href(self, rel: str) -> str:
        """The href of the first link with relation `rel`.

        Raises:
            JobnodeError: the entity has no such link.
        """
        found = self.link(rel)
        if found is None:
            raise JobnodeError(f"the PinexQ {self.kind} entity has no {rel!r} link")
        return found.href

    @property
    def self_href(self) -> str:
        return self.href("self")

    @property
    def kind(self) -> str:
        return (self.classes or ["?"])[0]

    def action(self, name: str) -> Action | None:
        """The action called `name`, if the entity offers it now."""
        return next((action for action in self.actions or [] if action.name == name), None)

    def embedded(self, rel: str) -> list[Entity]:
        """The embedded entities with relation `rel`, in order."""
        return [e for e in self.entities or [] if isinstance(e, Entity) and rel in (e.rel or [])]


class NotOffered(JobnodeError):
    """The entity does not offer the action now (the platform's state machine does not allow it)."""

    def __init__(self, entity: Entity, name: str) -> None:
        state = (entity.properties or {}).get("State")
        where = f" in state {state}" if state else ""
        super().__init__(f"the PinexQ {entity.kind} does not offer {name!r}{where}")
        self.entity = entity
        self.name = name


def parse_problem(response: httpx.Response) -> tuple[str, str | None, Any]:
    """(message, code, details) of a PinexQ error: an RFC 7807 problem (`detail`, else `title`); the whole problem
    is kept as the details, so that a lineage refusal's `blockers` reach the caller."""
    if response.headers.get("content-type", "").startswith(PROBLEM):
        try:
            body = response.json()
        except ValueError:
            return parse_error_body(response)
        if isinstance(body, dict):
            message = body.get("detail") or body.get("title") or response.reason_phrase
            code = body.get("title")
            return str(message), None if code is None else str(code), body
    return parse_error_body(response)


class SirenClient:
    """Reads a Siren API through a jobnode `Transport` (its retries, its errors)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def entry_point(self) -> Entity:
        return await self.get(ENTRY_POINT)

    async def get(self, href: str) -> Entity:
        """The entity at `href`.

        Raises:
            jobnode.core.errors.APIError: the platform answered an error (404 for a deleted job, ...).
            JobnodeError: the answer is not a Siren entity.
        """
        response = await self.transport.request("GET", href)
        return self.parse(response, href)

    @staticmethod
    def parse(response: httpx.Response, href: str) -> Entity:
        media_type = response.headers.get("content-type", SIREN)
        if media_type != SIREN:
            raise JobnodeError(f"PinexQ answered {href} with {media_type!r}, not a Siren entity ({SIREN})")
        try:
            return Entity.model_validate_json(response.content)
        except ValidationError as exc:
            raise JobnodeError(f"PinexQ answered {href} with an entity jobnode cannot read: {exc}") from None

    async def follow(self, entity: Entity, rel: str) -> Entity:
        """The entity an entity links to with relation `rel`."""
        return await self.get(entity.href(rel))

    async def act(
        self, entity: Entity, name: str, body: BaseModel | dict[str, Any] | None = None, *, retry: bool = False
    ) -> str | None:
        """Run the entity's action `name` with `body` (a wire model or its JSON); returns the URL of what it
        created (a `201` answer's `Location`), or None.

        `retry=True` declares the action safe to repeat (it sets a value, or creates something harmless such as a
        query), so transient failures are retried.

        Raises:
            NotOffered: the entity does not offer the action now.
        """
        action = entity.action(name)
        if action is None:
            raise NotOffered(entity, name)
        payload: Any = (
            body.model_dump(mode="json", by_alias=True, exclude_none=True) if isinstance(body, BaseModel) else body
        )
        if action.fields and payload is None:
            raise JobnodeError(f"the PinexQ action {name!r} needs parameters")
        method = (action.method or "POST").upper()
        response = await self.transport.request(
            method,
            action.href,
            json=payload if action.fields else None,
            headers={"Content-Type": JSON},
            retry_unsafe=retry,
        )
        if response.status_code == httpx.codes.CREATED:
            location = response.headers.get("location")
            return urljoin(action.href, location) if location else None
        if response.status_code != httpx.codes.OK:
            raise JobnodeError(f"PinexQ answered the action {name!r} with HTTP {response.status_code}, not 200 or 201")
        return None

    async def upload(
        self,
        entity: Entity,
        name: str,
        *,
        filename: str,
        content: bytes,
        media_type: str,
        parameters: BaseModel | None = None,
    ) -> str:
        """Run an upload action (`multipart/form-data`): the parameters as a JSON form field named by the action's
        JSON field, then the file as `upload-file`. Returns the URL of the new resource."""
        action = entity.action(name)
        if action is None:
            raise NotOffered(entity, name)
        data: dict[str, str] | None = None
        if parameters is not None:
            field = next((f for f in (action.fields or [])[1:] if f.type == JSON), None)
            if field is None:
                raise JobnodeError(f"the PinexQ upload action {name!r} takes no parameters")
            data = {field.name: parameters.model_dump_json(by_alias=True, exclude_none=True)}
        try:
            # an upload is never repeated (it is not idempotent), so it bypasses the transport's retries
            response = await self.transport.http.request(
                (action.method or "POST").upper(),
                action.href,
                data=data,
                files={"upload-file": (filename, content, media_type)},
            )
        except httpx.TransportError as exc:
            raise TransportError(f"could not upload {filename!r} to PinexQ at {action.href}: {exc!r}") from exc
        if response.status_code >= 400:
            raise self.transport.to_error(response)
        location = response.headers.get("location")
        if response.status_code != httpx.codes.CREATED or not location:
            raise JobnodeError(f"PinexQ answered the upload {name!r} with HTTP {response.status_code}, no Location")
        return str(urljoin(action.href, location))
