"""The entry point, `Info` (with the current user and the event stream's URL) and the user: where every client
starts (`GET api/EntryPoint`, the one path PinexQ's SDK builds itself)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from jobnode.platforms.pinexq.emulator.hypermedia import EVENT_STREAM, Urls, base_url, link, properties, siren_response
from jobnode.platforms.pinexq.siren import Entity
from jobnode.platforms.pinexq.wire import API_VERSION, InfoProperties, UserProperties

router = APIRouter(tags=["entry point"])

#: the one user of the emulator: whoever holds the service's token
USER_ID = "00000000-0000-0000-0000-000000000001"
ORGANIZATION = "jobnode"


def _user(urls: Urls, *, rel: list[str] | None = None) -> Entity:
    return Entity(
        classes=["User"],
        rel=rel,
        title="User",
        properties=properties(UserProperties(user_id=USER_ID, user_grants=["user"])),
        links=[link("self", urls.of("/users/me"))],
    )


@router.get("/api/EntryPoint")
def entry_point(request: Request) -> Response:
    urls = Urls(base_url(request))
    return siren_response(
        Entity(
            classes=["EntryPoint"],
            title="Entry point",
            properties={},
            links=[
                link("self", urls.of("/EntryPoint")),
                link("Info", urls.of("/info")),
                link("JobsRoot", urls.of("/jobs")),
                link("WorkDataRoot", urls.of("/workdata")),
                link("ProcessingStepsRoot", urls.of("/processingsteps")),
            ],
        )
    )


@router.get("/api/info")
def info(request: Request) -> Response:
    urls = Urls(base_url(request))
    return siren_response(
        Entity(
            classes=["Info"],
            title="Info",
            properties=properties(
                InfoProperties(
                    api_version=API_VERSION,
                    build_version="jobnode",
                    organization_id=ORGANIZATION,
                    tenant_id=ORGANIZATION,
                    used_storage_in_bytes=0,
                )
            ),
            entities=[_user(urls, rel=["CurrentUser"])],
            links=[
                link("self", urls.of("/info")),
                link("ApiEventsEndpoint", urls.of("/events"), media_type=EVENT_STREAM),
            ],
        )
    )


@router.get("/api/users/me")
def user(request: Request) -> Response:
    return siren_response(_user(Urls(base_url(request))))
