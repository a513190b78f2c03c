"""The watch stream: many jobs on one connection, an event per change, the stream ends when all have ended."""

from __future__ import annotations

import asyncio

import httpx
from httpx_sse import EventSource

import jobnode
from jobnode import JobState
from jobnode.service.process import ServiceProcess
from tests.helpers import eventually


async def test_one_stream_follows_many_jobs_to_the_end(aclient: jobnode.AsyncClient) -> None:
    jobs = [
        await aclient.jobs.create(step="sleep", params={"seconds": 0.2}, items=list(range(6)), batch_size=2)
        for _ in range(5)
    ]
    ids = [j.id for j in jobs]
    seen: dict[str, list[jobnode.Job]] = {i: [] for i in ids}
    async for job in aclient.jobs.watch(ids):
        seen[job.id].append(job)
    for job_id, updates in seen.items():
        assert updates[-1].state is JobState.SUCCEEDED, job_id
        processed = [u.progress.items_processed for u in updates]
        assert processed == sorted(processed)
        assert len(updates) >= 2


async def test_raw_stream_is_one_connection_with_job_events(service: ServiceProcess) -> None:
    headers = {"Authorization": f"Bearer {service.token}"}
    async with httpx.AsyncClient(base_url=service.url, headers=headers) as http:
        created = await http.post("/v1/jobs", json={"step": "identity", "input": {"kind": "items", "items": [1]}})
        job_id = created.json()["id"]
        events = []
        async with http.stream("GET", "/v1/watch", params={"ids": job_id}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            async for event in EventSource(response).aiter_sse():
                events.append(event)
        assert all(e.event == "job" for e in events)
        assert jobnode.Job.model_validate_json(events[-1].data).state is JobState.SUCCEEDED


async def test_wait_times_out_without_cancelling(aclient: jobnode.AsyncClient) -> None:
    job = await aclient.jobs.create(step="sleep", params={"seconds": 30}, items=[1])
    try:
        await aclient.jobs.wait(job.id, timeout=0.5)
    except jobnode.WaitTimeout as exc:
        assert exc.job_id == job.id
    else:
        raise AssertionError("wait should have timed out")
    assert (await aclient.jobs.get(job.id)).state is JobState.RUNNING
    await aclient.jobs.cancel(job.id)


async def test_wait_survives_a_service_restart(fresh_service: ServiceProcess) -> None:
    async with jobnode.AsyncClient(fresh_service.url, token=fresh_service.token) as client:
        job = await client.jobs.create(step="sleep", params={"seconds": 0.3}, items=list(range(6)), batch_size=1)
        waiter = asyncio.create_task(client.jobs.wait(job.id, timeout=60))
        await asyncio.sleep(0.5)
        await asyncio.to_thread(fresh_service.restart, kill=True)
        done = await waiter
        assert done.state is JobState.SUCCEEDED


async def test_watching_more_jobs_than_one_stream_holds_polls(aclient: jobnode.AsyncClient) -> None:
    jobs = [await aclient.jobs.create(step="identity", items=[n]) for n in range(3)]
    ids = [j.id for j in jobs] + [f"{jobs[0].id}" for _ in range(1100)]  # repeated ids: more than one stream holds
    ended = {job.id async for job in aclient.jobs.watch(ids, poll_interval=0.1) if job.is_terminal}
    assert ended == {j.id for j in jobs}


async def test_many_waits_of_one_client_share_a_stream_and_leave_the_pool_free(service: ServiceProcess) -> None:
    """150 waits through one client follow one watch stream, so the client's 100 pooled connections stay free for
    other calls (each wait used to hold a stream of its own, and a `get` then failed on the pool)."""
    async with jobnode.AsyncClient(service.url, token=service.token) as client:
        jobs = [await client.jobs.create(step="sleep", params={"seconds": 60}, items=[1]) for _ in range(150)]
        waits = [asyncio.create_task(client.jobs.wait(j.id)) for j in jobs]
        await eventually(lambda: client.jobs.watcher.watched == 150 and client.jobs.watcher.streams >= 1)
        assert client.jobs.watcher.streams == 1
        assert not any(w.done() for w in waits)
        assert (await client.jobs.get(jobs[0].id)).state is JobState.RUNNING  # the pool has room for this
        for job in jobs:
            await client.jobs.cancel(job.id)
        assert {j.state for j in await asyncio.gather(*waits)} == {JobState.CANCELLED}
