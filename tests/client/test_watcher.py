"""The client's shared watcher: one loop for many waits, few requests, errors kept to the jobs they are about."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import jobnode
from jobnode.client import JobGone, shared_client
from jobnode.client._watcher import WATCH_CHUNK, Watcher
from jobnode.core.backend import Sweep
from jobnode.core.errors import AuthenticationError, BadRequest, ServerError, TransportError
from jobnode.core.models import Job, JobState, Progress
from jobnode.testing import InMemoryBackend as FakeBackend
from tests.helpers import eventually


def _client(backend: FakeBackend, **options: Any) -> jobnode.AsyncClient:
    client = jobnode.AsyncClient(backend=backend, poll_interval=0.05, **options)
    client.jobs.watcher.settle = 0.01
    return client


async def _last(client: jobnode.AsyncClient, job_id: str) -> Job:
    last = None
    async for job in client.jobs.watch([job_id]):
        last = job
    assert last is not None
    return last


@pytest.fixture
def polling() -> FakeBackend:
    return FakeBackend(watch=False)


@pytest.fixture
def watching() -> FakeBackend:
    return FakeBackend(watch=True)


class TestPolling:
    async def test_many_waits_cost_one_request_per_round(self, polling: FakeBackend) -> None:
        jobs = [polling.add() for _ in range(300)]
        client = _client(polling)
        waits = [asyncio.create_task(_last(client, j.id)) for j in jobs]
        await eventually(lambda: client.jobs.watcher.watched == 300 and polling.calls["list_jobs"] >= 3)
        rounds = polling.calls["list_jobs"]
        for job in jobs:
            polling.set(job.id, JobState.SUCCEEDED)
        done = await asyncio.gather(*waits)
        assert {j.state for j in done} == {JobState.SUCCEEDED}
        assert polling.calls["get_job"] == 0
        assert polling.calls["watch"] == 0  # the platform has no push channel
        assert polling.calls["list_jobs"] >= rounds  # every round was one request for all 300 jobs
        await client.aclose()

    async def test_bulk_requests_are_chunked_by_the_client(self, polling: FakeBackend) -> None:
        jobs = [polling.add(JobState.SUCCEEDED) for _ in range(2500)]
        client = _client(polling)
        done = await asyncio.gather(*(_last(client, j.id) for j in jobs))
        assert len(done) == 2500
        assert polling.calls["list_jobs"] == 3
        await client.aclose()

    async def test_transient_errors_are_waited_out(self, polling: FakeBackend) -> None:
        job = polling.add()
        polling.fail_next("list_jobs", ServerError("busy", status_code=503), TransportError("down"))
        client = _client(polling)
        task = asyncio.create_task(_last(client, job.id))
        await eventually(lambda: polling.calls["list_jobs"] >= 3)
        polling.set(job.id, JobState.FAILED, reason="3 of 3 items failed")
        assert (await task).state is JobState.FAILED
        await client.aclose()

    async def test_a_deleted_job_ends_only_its_own_waits(self, polling: FakeBackend) -> None:
        kept, deleted = polling.add(), polling.add()
        client = _client(polling)
        waits = [asyncio.create_task(_last(client, j.id)) for j in (kept, deleted)]
        await eventually(lambda: polling.calls["list_jobs"] >= 1)
        polling.remove(deleted.id)
        with pytest.raises(JobGone, match=deleted.id):
            await waits[1]
        polling.set(kept.id, JobState.SUCCEEDED)
        assert (await waits[0]).state is JobState.SUCCEEDED
        await client.aclose()

    async def test_an_error_that_is_not_transient_reaches_the_waits(self, polling: FakeBackend) -> None:
        jobs = [polling.add(), polling.add()]
        denied = AuthenticationError("wrong token", status_code=401)
        polling.fail_next("list_jobs", denied)
        polling.fail_next("get_job", denied, denied)
        client = _client(polling)
        results = await asyncio.gather(*(_last(client, j.id) for j in jobs), return_exceptions=True)
        assert [type(r) for r in results] == [AuthenticationError, AuthenticationError]
        assert polling.calls["get_job"] == 2  # each job was asked about alone, to find which one the error is about
        await client.aclose()

    async def test_two_waits_on_one_job_share_its_updates(self, polling: FakeBackend) -> None:
        job = polling.add()
        client = _client(polling)
        waits = [asyncio.create_task(_last(client, job.id)) for _ in range(2)]
        await eventually(lambda: polling.calls["list_jobs"] >= 1)
        polling.set(job.id, JobState.SUCCEEDED)
        assert [w.state for w in await asyncio.gather(*waits)] == [JobState.SUCCEEDED] * 2
        await client.aclose()


class TestWatching:
    async def test_jobs_that_arrive_together_share_streams_of_bounded_size(self, watching: FakeBackend) -> None:
        jobs = [watching.add() for _ in range(2 * WATCH_CHUNK + 10)]
        client = _client(watching)
        waits = [asyncio.create_task(_last(client, j.id)) for j in jobs]
        await eventually(lambda: len(watching.watch_sizes) == 3)
        assert client.jobs.watcher.streams == 3
        assert sorted(watching.watch_sizes) == [10, WATCH_CHUNK, WATCH_CHUNK]
        for job in jobs:
            watching.set(job.id, JobState.SUCCEEDED)
        assert {j.state for j in await asyncio.gather(*waits)} == {JobState.SUCCEEDED}
        assert watching.calls["list_jobs"] == 0
        assert watching.calls["get_job"] == 0
        await client.aclose()

    async def test_streams_are_merged_when_they_multiply(self, watching: FakeBackend) -> None:
        client = _client(watching)
        client.jobs.watcher.max_extra_streams = 2
        waits = []
        for _ in range(6):
            job = watching.add()
            waits.append(asyncio.create_task(_last(client, job.id)))
            await eventually(lambda n=len(waits): sum(watching.watch_sizes) >= n)
        assert client.jobs.watcher.streams <= 3
        assert max(watching.watch_sizes) > 1  # a merged stream follows several jobs
        for job_id in list(watching.jobs):
            watching.set(job_id, JobState.SUCCEEDED)
        assert len(await asyncio.gather(*waits)) == 6
        await client.aclose()

    async def test_a_missing_job_fails_alone_and_the_others_are_watched_again(self, watching: FakeBackend) -> None:
        kept, deleted = watching.add(), watching.add()
        watching.remove(deleted.id)
        client = _client(watching)
        waits = [asyncio.create_task(_last(client, j.id)) for j in (kept, deleted)]
        with pytest.raises(JobGone):
            await waits[1]
        await eventually(lambda: watching.calls["watch"] >= 2)
        watching.set(kept.id, JobState.SUCCEEDED)
        assert (await waits[0]).state is JobState.SUCCEEDED
        await client.aclose()

    async def test_a_stream_that_fails_for_good_gives_way_to_polling(self, watching: FakeBackend) -> None:
        job = watching.add()
        watching.fail_next("watch", BadRequest("ids: too long", status_code=400))
        client = _client(watching)
        task = asyncio.create_task(_last(client, job.id))
        await eventually(lambda: not client.jobs.watcher.uses_push)
        watching.set(job.id, JobState.SUCCEEDED)
        assert (await task).state is JobState.SUCCEEDED
        assert watching.calls["list_jobs"] >= 2
        await client.aclose()

    async def test_watch_off_polls_even_when_the_platform_can_push(self, watching: FakeBackend) -> None:
        job = watching.add(JobState.SUCCEEDED)
        client = _client(watching, watch=False)
        assert (await _last(client, job.id)).state is JobState.SUCCEEDED
        assert watching.calls["watch"] == 0
        await client.aclose()


class TestSharing:
    async def test_one_client_per_key_closed_by_the_last_user(self, polling: FakeBackend) -> None:
        built: list[jobnode.AsyncClient] = []

        async def connect() -> jobnode.AsyncClient:
            built.append(_client(polling))
            return built[-1]

        async with shared_client("conn-a", connect) as first, shared_client("conn-a", connect) as second:
            assert first is second
            async with shared_client("conn-b", connect) as other:
                assert other is not first
        assert len(built) == 2
        assert polling.closed

    async def test_a_failed_connect_is_tried_again_by_the_next_user(self, polling: FakeBackend) -> None:
        attempts: list[int] = []

        async def connect() -> jobnode.AsyncClient:
            attempts.append(1)
            if len(attempts) == 1:
                raise jobnode.ConfigurationError("connection 'x' has no host")
            return _client(polling)

        with pytest.raises(jobnode.ConfigurationError):
            async with shared_client("conn-c", connect):
                pass
        async with shared_client("conn-c", connect) as client:
            assert isinstance(client, jobnode.AsyncClient)
        assert len(attempts) == 2

    async def test_many_waits_of_one_client_hold_one_stream(self, watching: FakeBackend) -> None:
        """150 waits through one client share its watcher: one stream, not 150 (issue 11, defect 7)."""
        client = _client(watching)
        jobs = [watching.add() for _ in range(150)]
        waits = [asyncio.create_task(client.jobs.wait(j.id)) for j in jobs]
        await eventually(lambda: client.jobs.watcher.watched == 150 and client.jobs.watcher.streams >= 1)
        assert client.jobs.watcher.streams <= 2
        assert (await client.jobs.get(jobs[0].id)).id == jobs[0].id  # the client still answers other calls
        for job in jobs:
            watching.set(job.id, JobState.SUCCEEDED)
        assert {j.state for j in await asyncio.gather(*waits)} == {JobState.SUCCEEDED}
        await client.aclose()


class TestSweepsAndIntervals:
    async def test_a_sweep_covers_many_jobs_with_a_few_list_pages(self) -> None:
        """Without bulk status, 250 waits cost a few pages of the job list per round, not 250 reads; the jobs a
        sweep of active jobs no longer lists (they ended) are read once each."""
        backend = FakeBackend(watch=False, bulk_status=False, sweep=Sweep(page_size=100, active_only=True))
        jobs = [backend.add() for _ in range(250)]
        client = _client(backend)
        waits = [asyncio.create_task(_last(client, j.id)) for j in jobs]
        await eventually(lambda: client.jobs.watcher.requests["sweep"] >= 6)
        assert backend.calls["get_job"] == 0  # every running job was seen on a list page
        for job in jobs:
            backend.set(job.id, JobState.SUCCEEDED)
        assert {j.state for j in await asyncio.gather(*waits)} == {JobState.SUCCEEDED}
        assert backend.calls["get_job"] <= len(jobs)  # each ended job was read at most once
        await client.aclose()

    async def test_reads_are_chosen_when_a_sweep_would_cost_more(self) -> None:
        backend = FakeBackend(watch=False, bulk_status=True, sweep=Sweep(page_size=10, active_only=True))
        for _ in range(300):
            backend.add()  # jobs nobody waits for fill the active list
        watched = backend.add()
        client = _client(backend)
        task = asyncio.create_task(_last(client, watched.id))
        await eventually(lambda: client.jobs.watcher.requests["status"] >= 3)
        backend.set(watched.id, JobState.SUCCEEDED)
        assert (await task).state is JobState.SUCCEEDED
        assert client.jobs.watcher.requests["sweep"] <= 31  # at most one sweep, then one bulk read per look
        await client.aclose()

    async def test_a_round_in_which_jobs_ended_brings_the_next_round_forward(self) -> None:
        """Jobs end in waves: a round that saw a watched job end is followed by one at `min_interval`, for every
        watched job; a round that saw none goes back to the interval (a minute here, so that any extra round is the
        wave's doing)."""
        backend = FakeBackend(watch=False)  # one bulk read per round
        client = jobnode.AsyncClient(backend=backend, poll_interval=60.0)
        watcher = client.jobs.watcher
        watcher.settle, watcher.min_interval = 0.01, 0.05
        waits = [asyncio.create_task(_last(client, backend.add().id)) for _ in range(5)]
        await eventually(lambda: watcher.watched == 5 and watcher.requests["status"] >= 1)
        await asyncio.sleep(0.3)
        before = watcher.requests["status"]
        ended = backend.add()
        backend.set(ended.id, JobState.SUCCEEDED)
        assert (await _last(client, ended.id)).state is JobState.SUCCEEDED  # a round read it (a new wait's)
        await eventually(lambda: watcher.requests["status"] >= before + 2)  # and the next round came at once
        await asyncio.sleep(0.5)
        assert watcher.requests["status"] == before + 2  # it saw nothing end: the next is a minute away
        for wait in waits:
            wait.cancel()
        await client.aclose()

    def test_a_job_about_to_finish_is_looked_at_sooner(self) -> None:
        watcher = Watcher(status=_never, get=_never, stream=None, poll_interval=8.0, min_interval=0.5)
        watcher._waiters["job_1"] = set()
        first = Job(id="job_1", state=JobState.RUNNING, progress=Progress(items_total=100, items_processed=10))
        assert watcher._next_look(first, now=100.0) == 8.0  # nothing to go by yet
        near_end = first.model_copy(update={"progress": Progress(items_total=100, items_processed=90)})
        # 80 items in 20 s: 10 items to go are 2.5 s away, so the next look is in about half that
        assert watcher._next_look(near_end, now=120.0) == pytest.approx(1.25)
        far = first.model_copy(update={"progress": Progress(items_total=100, items_processed=11)})
        assert watcher._next_look(far, now=120.0) == watcher.max_interval  # far from the end: the longest


async def _never(*args: Any) -> Any:
    raise AssertionError("no read expected")
