"""Random bodies and query strings never get a 500: only 2xx or a 4xx in the error shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobnode.service.process import ServiceProcess

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
FIELDS = [
    "name",
    "step_version",
    "params",
    "batch_size",
    "workers",
    "max_attempts",
    "max_item_failures",
    "timeout",
    "start_at",
    "stop_at",
    "tags",
    "parent_id",
    "webhook",
]
bodies = st.fixed_dictionaries(
    {
        "step": st.sampled_from(["identity", "sleep", "fail", "nope"]) | json_values,
        "input": st.sampled_from([{"kind": "items", "items": [1]}, {"kind": "files", "paths": ["x"]}]) | json_values,
    },
    optional={f: json_values for f in FIELDS},
)


@pytest.fixture(scope="module")
def http(service: ServiceProcess) -> httpx.Client:
    return httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {service.token}"}, timeout=30)


def check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message", "details"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_create_never_500(http: httpx.Client, body: dict[str, Any]) -> None:
    response = http.post("/v1/jobs", json=body, params={"dry_run": "true"})
    check(response)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "state",
                "tag",
                "name",
                "ids",
                "limit",
                "cursor",
                "order",
                "min_level",
                "after_time",
                "before_time",
                "kind",
            ]
        ),
        st.text(max_size=30),
        max_size=4,
    )
)
def test_queries_never_500(http: httpx.Client, params: dict[str, str]) -> None:
    check(http.get("/v1/jobs", params=params))
    job_id = http.get("/v1/jobs", params={"limit": 1}).json()["data"]
    if job_id:
        check(http.get(f"/v1/jobs/{job_id[0]['id']}/logs", params=params))
