"""Log pagination both ways and filters, through the client and the raw API."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

import jobnode
from jobnode.service.process import ServiceProcess


@pytest.fixture(scope="module")
def logged_job(service: ServiceProcess) -> str:
    with jobnode.Client(service.url, token=service.token) as client:
        job = client.jobs.create(
            step="fail", params={"fail_items": [7, 1500]}, items=list(range(2500)), batch_size=500, max_item_failures=5
        )
        client.jobs.wait(job.id, timeout=60)
        return job.id


def test_iter_logs_yields_every_entry_in_order(client: jobnode.Client, logged_job: str) -> None:
    entries = list(client.jobs.iter_logs(logged_job))
    assert len(entries) == 2500
    ids = [int(e.id) for e in entries]
    assert ids == sorted(ids)
    desc = list(client.jobs.iter_logs(logged_job, order="desc"))
    assert [e.id for e in desc] == [e.id for e in reversed(entries)]


def test_pages_forward_and_back(client: jobnode.Client, logged_job: str) -> None:
    p1 = client.jobs.logs(logged_job, limit=1000)
    assert p1.prev_cursor is None and p1.next_cursor
    p2 = client.jobs.logs(logged_job, limit=1000, cursor=p1.next_cursor)
    p3 = client.jobs.logs(logged_job, limit=1000, cursor=p2.next_cursor)
    assert (len(p1.data), len(p2.data), len(p3.data)) == (1000, 1000, 500)
    assert p3.next_cursor is None
    back = client.jobs.logs(logged_job, limit=1000, cursor=p2.prev_cursor)
    assert [e.id for e in back.data] == [e.id for e in p1.data]
    d1 = client.jobs.logs(logged_job, limit=10, order="desc")
    d2 = client.jobs.logs(logged_job, limit=10, order="desc", cursor=d1.next_cursor)
    assert int(d1.data[-1].id) > int(d2.data[0].id)
    d_back = client.jobs.logs(logged_job, limit=10, order="desc", cursor=d2.prev_cursor)
    assert [e.id for e in d_back.data] == [e.id for e in d1.data]


def test_filters(client: jobnode.Client, logged_job: str) -> None:
    errors = list(client.jobs.iter_logs(logged_job, min_level="error"))
    assert sorted(e.item for e in errors) == ["1500", "7"]
    assert all(e.kind == "ItemFailed" for e in client.jobs.iter_logs(logged_job, kind="ItemFailed"))
    everything = list(client.jobs.iter_logs(logged_job))
    middle = everything[1200].time
    after = list(client.jobs.iter_logs(logged_job, after_time=middle))
    before = list(client.jobs.iter_logs(logged_job, before_time=middle + timedelta(microseconds=1)))
    assert all(e.time > middle for e in after)
    assert all(e.time <= middle for e in before)
    assert len(after) + len(before) == 2500


def test_raw_api_limits(service: ServiceProcess, logged_job: str) -> None:
    headers = {"Authorization": f"Bearer {service.token}"}
    r = httpx.get(f"{service.url}/v1/jobs/{logged_job}/logs", params={"limit": 1001}, headers=headers)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "limit"
