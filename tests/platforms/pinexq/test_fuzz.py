"""Random bodies to every action of the emulator: never a 500, always an RFC 7807 problem (or a success)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobnode.service.process import ServiceProcess

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=12,
)
FIELDS = [
    "Name",
    "ProcessingStepUrl",
    "ParentJobUrl",
    "Parameters",
    "Tags",
    "Start",
    "InputDataSlots",
    "Filter",
    "Pagination",
    "SortBy",
    "WorkDataUrl",
    "WorkDataUrls",
    "NewName",
    "Message",
    "Comment",
    "x",
    "n",
]
# bodies that look like what the actions take, with values of any kind
BODIES = st.one_of(
    JSON_VALUES,
    st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=5),
    st.binary(max_size=40),
)


@pytest.fixture(scope="module")
def http(pinexq_service: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=pinexq_service.url, headers={"x-api-key": pinexq_service.token or ""}) as client:
        yield client


@pytest.fixture(scope="module")
def paths(http: httpx.Client) -> list[str]:
    """Every action path of a job (with a step selected), its input slot, a WorkData and the roots."""
    job = http.post("/api/jobs", json={"Name": "fuzzed"}).headers["location"]
    step = json.loads(http.get("/api/processingsteps/my_function@1.0.0").text)["links"][0]["href"]
    assert http.post(f"{job}/SelectProcessing", json={"ProcessingStepUrl": step}).status_code == 200
    upload = http.post("/api/workdata/upload", files={"upload-file": ("a.json", b"[1]", "application/json")})
    workdata = upload.headers["location"]
    actions = [
        "SelectProcessing",
        "ConfigureProcessing",
        "StartProcessing",
        "EditTags",
        "Rename",
        "Hide",
        "UnHide",
        "AllowOutputDataDeletion",
        "DisallowOutputDataDeletion",
        "SetJobToErrorState",
        "Nope",
    ]
    return [
        "/api/jobs",
        "/api/jobs/CreateSubJob",
        "/api/jobs/RapidSetupJob",
        "/api/jobs/query",
        "/api/processingsteps/query",
        "/api/workdata/query",
        *(f"{job}/{a}" for a in actions),
        *(f"{job}/InputDataSlots/0/{a}" for a in ("SelectWorkData", "SelectWorkDataCollection", "Clear")),
        *(f"{workdata}/{a}" for a in ("EditTags", "Rename", "EditComment", "Hide", "AllowDeletion")),
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), body=BODIES)
def test_no_body_makes_an_action_fail_with_a_500(http: httpx.Client, paths: list[str], data: Any, body: Any) -> None:
    path = data.draw(st.sampled_from(paths))
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = http.post(path, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code < 500, (path, body, response.text)
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json", response.text
        assert response.json()["detail"]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.text(max_size=60))
def test_no_query_url_makes_a_500(http: httpx.Client, token: str) -> None:
    for root in ("jobs", "processingsteps", "workdata"):
        response = http.get(f"/api/{root}/query/{quote(token, safe='')}")
        assert response.status_code < 500, (root, token, response.text)
