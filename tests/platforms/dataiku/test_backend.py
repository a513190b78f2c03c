"""The `dataiku` backend against the emulator over HTTP: the lifecycle, every state, recursive builds, partitions,
listings, logs, lineage-aware cleanup, the API client's waiting semantics and errors."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import timedelta
from typing import Any

import pytest

import jobnode
from jobnode.core.errors import AuthenticationError, BadRequest, Conflict, JobFailed, NotFound
from jobnode.core.models import Job, JobState, LogLevel
from jobnode.platforms.dataiku import wire
from jobnode.platforms.dataiku.wire import JobDefinitionBuilder
from jobnode.service.process import ServiceProcess
from tests.platforms.dataiku.conftest import ClientFactory, backend, project_key

REVIEWS = [
    {"id": "r1", "text": "Great FOOD, lovely staff"},
    {"id": "r2", "text": "Awful and SLOW service"},
    {"id": "r3", "text": "It was fine"},
]


def key_of(client: jobnode.AsyncClient) -> str:
    return backend(client).project_key


async def wait(client: jobnode.AsyncClient, job_id: str) -> Job:
    return await client.jobs.wait(job_id, timeout=60, poll_interval=0.1)


async def until(client: jobnode.AsyncClient, job_id: str, raw_state: str, timeout: float = 30) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        job = await client.jobs.get(job_id)
        if job.raw_state == raw_state or time.monotonic() > deadline:
            return job
        await asyncio.sleep(0.05)


async def build(
    client: jobnode.AsyncClient, dataset: str, build_type: wire.BuildType = "NON_RECURSIVE_FORCED_BUILD"
) -> Job:
    definition = JobDefinitionBuilder(build_type).with_output(dataset).definition()
    return await backend(client).start_job(definition)


async def records(client: jobnode.AsyncClient, artifact_id: str, **kwargs: Any) -> list[Any]:
    return [r async for r in client.artifacts.read(artifact_id, **kwargs)]


def activities(job: Job) -> list[str]:
    assert job.raw is not None
    return list(job.raw["baseStatus"]["activities"])


class TestLifecycle:
    async def test_items_are_uploaded_and_the_recipe_builds_its_dataset(
        self, dss: ClientFactory, dataiku_service: ServiceProcess
    ) -> None:
        client = dss("CHAIN")
        key = key_of(client)
        job = await client.jobs.create(name="clean", step="compute_clean", items=REVIEWS, batch_size=2, tags=["t"])
        assert job.platform == "dataiku" and job.id.startswith("build_clean_NP_")
        assert job.url == f"{dataiku_service.url}/projects/{key}/jobs/{job.id}/"
        job = await wait(client, job.id)
        assert (job.state, job.raw_state, job.message) == (JobState.SUCCEEDED, "DONE", "DONE, 1 of 1 activities done")
        assert (job.progress.items_total, job.progress.items_processed) == (1, 1)
        assert job.step == "compute_clean" and job.name == "build_clean_NP"
        assert job.created_at is not None and job.started_at is not None and job.ended_at is not None
        assert [a.id for a in job.inputs] == [f"{key}.raw"]
        assert [a.id for a in job.outputs] == [f"{key}.clean"]
        cleaned = [{**r, "text": r["text"].lower()} for r in REVIEWS]
        assert await records(client, f"{key}.clean") == cleaned
        assert await records(client, f"{key}.clean", skip=2) == cleaned[2:]
        assert await records(client, f"{key}.raw") == REVIEWS  # the items went into the uploaded dataset
        result = await client.jobs.result(job.id)
        assert (result.state, [o.id for o in result.outputs], result.sample) == (
            JobState.SUCCEEDED,
            [f"{key}.clean"],
            cleaned,
        )
        # a new job's items replace the uploaded dataset's data
        again = await wait(client, (await client.jobs.create(step="compute_clean", items=REVIEWS[:1])).id)
        assert again.state is JobState.SUCCEEDED
        assert await records(client, f"{key}.raw") == REVIEWS[:1]
        assert await records(client, f"{key}.clean") == cleaned[:1]

    async def test_a_step_mapped_to_a_recipe(self, dataiku_service: ServiceProcess) -> None:
        key = project_key("CHAIN")
        async with jobnode.AsyncClient(
            dataiku_service.url,
            dataiku_service.token,
            platform="dataiku",
            project_key=key,
            recipes={"clean": "compute_clean"},
        ) as client:
            job = await wait(client, (await client.jobs.create(step="clean", items=REVIEWS)).id)
            assert job.state is JobState.SUCCEEDED and [o.id for o in job.outputs] == [f"{key}.clean"]

    async def test_a_running_job_is_aborted(self, dss: ClientFactory) -> None:
        client = dss("DEFAULT")
        job = await until(client, (await build(client, "dk_slow")).id, "RUNNING")
        assert (job.state, job.raw_state, job.is_terminal) == (JobState.RUNNING, "RUNNING", False)
        assert (job.progress.items_total, job.progress.items_processed) == (1, 0)
        assert job.outputs == []
        cancelled = await client.jobs.cancel(job.id)
        assert (cancelled.state, cancelled.raw_state) == (JobState.CANCELLED, "ABORTED")
        assert cancelled.reason == "compute_dk_slow_NP: the job was aborted"
        assert cancelled.ended_at is not None and cancelled.outputs == []
        again = await client.jobs.cancel(job.id)  # aborting a job that has ended changes nothing
        assert (again.state, again.ended_at) == (JobState.CANCELLED, cancelled.ended_at)
        text = await backend(client).get_log_text(job.id)
        assert "[WARN] [dku.flow.jobs] - Abort requested" in text and "Activity aborted" in text
        assert await backend(client).list_partitions("dk_slow") == []

    async def test_a_failed_recipe_fails_the_job(self, dss: ClientFactory) -> None:
        client = dss("DEFAULT")
        job = await wait(client, (await build(client, "dk_broken")).id)
        assert (job.state, job.raw_state) == (JobState.FAILED, "FAILED")
        assert job.reason == "compute_dk_broken_NP: 1 of 1 items failed"
        assert job.progress.items_failed == 1 and job.outputs == []
        errors = await client.jobs.errors(job.id)
        assert errors[0].message == "Job FAILED: 0 of 1 activities done"  # newest first
        assert any(e.item == "compute_dk_broken_NP" and "source system refused" in e.message for e in errors)

    async def test_a_retried_batch_is_a_warning(self, dss: ClientFactory) -> None:
        client = dss("DEFAULT")
        job = await wait(client, (await build(client, "dk_flaky")).id)
        assert job.state is JobState.SUCCEEDED
        assert job.message == "DONE, 1 of 1 activities done, 1 warning"
        assert job.raw is not None and job.raw["baseStatus"]["warningsCount"] == 1
        warnings = [e async for e in client.jobs.iter_logs(job.id, min_level="warning")]
        assert [e.item for e in warnings] == ["compute_dk_flaky_NP"]
        assert "warehouse dropped the connection" in (warnings[0].message or "")


class TestWaiting:
    async def test_the_api_clients_waiter(self, dss: ClientFactory) -> None:
        client = dss("DEFAULT")
        dss_backend = backend(client)
        done = await dss_backend.wait_job((await build(client, "dataset_to_build")).id)
        assert done.raw_state == "DONE"
        broken = await build(client, "dk_broken")
        with pytest.raises(JobFailed) as failed:
            await dss_backend.wait_job(broken.id)
        assert failed.value.job.raw_state == "FAILED"
        assert (await dss_backend.wait_job(broken.id, no_fail=True)).raw_state == "FAILED"


class TestStates:
    async def test_a_job_waiting_for_the_engine_is_not_started(self, tmp_path: Any) -> None:
        """With one engine thread held by a slow job, the next job's activity waits: NOT_STARTED (queued)."""
        with ServiceProcess(
            tmp_path / "one-thread",
            steps=["tests.platforms.dataiku.steps"],
            token="k",
            extra_args=["--platform", "dataiku", "--threads", "1"],
        ) as service:
            async with jobnode.AsyncClient(service.url, "k", platform="dataiku", project_key="ONE") as client:
                slow = await until(client, (await build(client, "dk_slow")).id, "RUNNING")
                waiting = await build(client, "dataset_to_build")
                assert (waiting.state, waiting.raw_state) == (JobState.QUEUED, "NOT_STARTED")
                assert waiting.started_at is None
                await client.jobs.cancel(slow.id)
                assert (await wait(client, waiting.id)).state is JobState.SUCCEEDED


class TestRecursiveBuilds:
    async def test_upstream_runs_first_each_an_activity_with_its_own_log(self, dss: ClientFactory) -> None:
        client = dss("CHAIN")
        key = key_of(client)
        await wait(client, (await client.jobs.create(step="compute_clean", items=REVIEWS)).id)
        job = await backend(client).wait_job((await build(client, "report", "RECURSIVE_FORCED_BUILD")).id)
        assert activities(job) == ["compute_clean_NP", "compute_scored_NP", "compute_report_NP"]
        assert job.raw is not None
        steps = list(job.raw["baseStatus"]["activities"].values())
        assert all(a["state"] == "DONE" for a in steps)
        assert all(before["endTime"] <= after["startTime"] for before, after in itertools.pairwise(steps))
        assert [o.id for o in job.outputs] == [f"{key}.clean", f"{key}.scored", f"{key}.report"]
        assert [i.id for i in job.inputs] == [f"{key}.raw"]
        assert (job.progress.items_total, job.progress.items_processed) == (3, 3)
        labels = [r["label"] for r in await records(client, f"{key}.report")]
        assert labels == ["positive", "negative", "neutral"]
        whole = await backend(client).get_log_text(job.id)
        for activity in activities(job):
            text = await backend(client).get_log_text(job.id, activity=activity)
            lines = text.splitlines()
            assert lines and all(f" act.{activity} - " in line for line in lines)
            assert sum("ItemProcessed" in line for line in lines) == 3
            assert all(line in whole for line in lines)
        with pytest.raises(NotFound, match="has no activity 'compute_nothing_NP'"):
            await backend(client).get_log_text(job.id, activity="compute_nothing_NP")

    async def test_smart_and_missing_only_builds(self, dss: ClientFactory) -> None:
        client = dss("CHAIN")
        key = key_of(client)
        dss_backend = backend(client)
        await wait(client, (await client.jobs.create(step="compute_clean", items=REVIEWS)).id)
        await dss_backend.wait_job((await build(client, "report", "RECURSIVE_FORCED_BUILD")).id)
        smart = await dss_backend.wait_job((await build(client, "report", "RECURSIVE_BUILD")).id)
        assert activities(smart) == ["compute_report_NP"]  # everything upstream is up to date
        await dss_backend.clear_dataset(jobnode.platforms.dataiku.mapping.DatasetPartition(key, "scored"))
        missing = await dss_backend.wait_job((await build(client, "report", "RECURSIVE_MISSING_ONLY_BUILD")).id)
        assert activities(missing) == ["compute_scored_NP", "compute_report_NP"]
        await dss_backend.replace_records("raw", REVIEWS[:2])  # new data upstream
        stale = await dss_backend.wait_job((await build(client, "report", "RECURSIVE_BUILD")).id)
        assert activities(stale) == ["compute_clean_NP", "compute_scored_NP", "compute_report_NP"]
        assert len(await records(client, f"{key}.report")) == 2

    async def test_a_failure_upstream_stops_the_build(self, dss: ClientFactory) -> None:
        client = dss("CHAIN")
        key = key_of(client)
        await backend(client).replace_records("raw", [*REVIEWS, {"id": "r4", "fail": True}])
        job = await wait(client, (await build(client, "report", "RECURSIVE_FORCED_BUILD")).id)
        assert job.state is JobState.FAILED
        assert job.reason == "compute_clean_NP: 1 of 4 items failed"
        assert job.raw is not None
        states = {k: a["state"] for k, a in job.raw["baseStatus"]["activities"].items()}
        assert states == {
            "compute_clean_NP": "FAILED",
            "compute_scored_NP": "NOT_STARTED",
            "compute_report_NP": "NOT_STARTED",
        }
        assert job.raw["globalState"] == {
            "done": 0,
            "failed": 1,
            "running": 0,
            "notStarted": 2,
            "aborted": 0,
            "total": 3,
        }
        assert job.outputs == [] and await backend(client).list_partitions("clean") == []
        errors = await client.jobs.errors(job.id)
        assert any(e.item == "compute_clean_NP" and e.message.startswith("ItemFailed r4") for e in errors)
        assert [f"{key}.raw"] == [i.id for i in (await client.jobs.get(job.id)).inputs]


class TestPartitions:
    async def test_partitions_are_built_read_and_cleared_one_by_one(self, dss: ClientFactory) -> None:
        client = dss("PART")
        key = key_of(client)
        day1, day2 = [{"id": "a", "text": "ONE"}], [{"id": "b", "text": "TWO"}, {"id": "c", "text": "Three"}]
        first = await wait(
            client, (await client.jobs.create(step="compute_daily", items=day1, params={"partition": "2024-01-01"})).id
        )
        second = await wait(
            client, (await client.jobs.create(step="compute_daily", items=day2, params={"partition": "2024-01-02"})).id
        )
        assert first.id.startswith("build_daily_2024-01-01_")
        assert [o.id for o in first.outputs] == [f"{key}.daily@2024-01-01"]
        assert activities(second) == ["compute_daily_2024-01-02"]
        assert await backend(client).list_partitions("daily") == ["2024-01-01", "2024-01-02"]
        assert await records(client, f"{key}.daily@2024-01-01") == [{"id": "a", "text": "one"}]
        assert await records(client, f"{key}.daily@2024-01-02") == [
            {"id": "b", "text": "two"},
            {"id": "c", "text": "three"},
        ]
        await client.jobs.delete(first.id, delete_outputs=True)
        assert await backend(client).list_partitions("daily") == ["2024-01-02"]

    async def test_a_partitioned_dataset_needs_a_partition(self, dss: ClientFactory) -> None:
        client = dss("PART")
        with pytest.raises(BadRequest, match=r"outputs\.0\.partition: dataset daily is partitioned"):
            await build(client, "daily")


class TestListing:
    async def test_newest_first_with_filters_pages_and_bulk_status(self, dss: ClientFactory) -> None:
        client = dss("LIST")
        first = await wait(client, (await build(client, "dataset_to_build")).id)
        broken = await wait(client, (await build(client, "dk_broken")).id)
        second = await wait(client, (await build(client, "dataset_to_build")).id)
        page = await client.jobs.list(limit=2)
        assert [j.id for j in page.data] == [second.id, broken.id]
        assert page.next_cursor is not None
        rest = await client.jobs.list(limit=2, cursor=page.next_cursor)
        assert [j.id for j in rest.data] == [first.id] and rest.next_cursor is None
        assert [j.id for j in (await client.jobs.list(state="failed")).data] == [broken.id]
        assert [j.id for j in (await client.jobs.list(name="build_dataset_to_build_NP")).data] == [second.id, first.id]
        assert all(j.outputs for j in (await client.jobs.list(state="succeeded")).data)
        slow = await until(client, (await build(client, "dk_slow")).id, "RUNNING")
        active = await client.jobs.list(state=["queued", "running"])
        assert [j.id for j in active.data] == [slow.id]
        statuses = await client.jobs.bulk_status([first.id, slow.id, "build_nope_NP_2024-01-01T00-00-00.000"])
        assert [(j.id, j.state) for j in statuses] == [(first.id, JobState.SUCCEEDED), (slow.id, JobState.RUNNING)]
        await client.jobs.cancel(slow.id)
        with pytest.raises(ValueError, match="cursor: not a cursor of the dataiku backend"):
            await client.jobs.list(cursor="nope")


class TestLogs:
    async def test_entries_pages_filters_and_order(self, dss: ClientFactory) -> None:
        client = dss("CHAIN")
        job = await wait(client, (await client.jobs.create(step="compute_clean", items=REVIEWS)).id)
        whole = (await client.jobs.logs(job.id)).data
        assert [int(e.id) for e in whole] == list(range(1, len(whole) + 1))
        assert [e.kind for e in whole].count("dku.flow.activity") == 3
        assert {e.item for e in whole if e.kind == "dku.flow.activity"} == {"compute_clean_NP"}
        paged = [e async for e in client.jobs.iter_logs(job.id, limit=2)]
        assert paged == whole
        newest = [e async for e in client.jobs.iter_logs(job.id, order="desc", limit=3)]
        assert newest == whole[::-1]
        items = [e async for e in client.jobs.iter_logs(job.id, kind="dku.flow.activity")]
        assert [e.message.split()[1] for e in items if e.message] == ["r1", "r2", "r3"]
        later = (await client.jobs.logs(job.id, after_time=whole[2].time)).data
        assert later and all(e.time > whole[2].time for e in later)
        before = (await client.jobs.logs(job.id, before_time=whole[0].time + timedelta(microseconds=1))).data
        assert whole[0] in before
        assert (await client.jobs.logs(job.id, min_level=LogLevel.ERROR)).data == []
        page = await client.jobs.logs(job.id, limit=1)
        with pytest.raises(ValueError, match="cursor: it continues an order='asc' listing"):
            await client.jobs.logs(job.id, cursor=page.next_cursor, order="desc")


class TestLineage:
    async def scored(self, client: jobnode.AsyncClient) -> tuple[Job, Job]:
        """Two jobs: one cleans the reviews, the next scores what it cleaned."""
        clean = await wait(client, (await client.jobs.create(name="clean", step="compute_clean", items=REVIEWS)).id)
        scored = await client.jobs.create(step="compute_scored", artifacts=[o.id for o in clean.outputs])
        return clean, await wait(client, scored.id)

    async def test_cleanup_clears_the_consumer_first_and_keeps_the_upload(self, dss: ClientFactory) -> None:
        client = dss("CHAIN")
        key = key_of(client)
        clean, scored = await self.scored(client)
        assert [i.id for i in scored.inputs] == [f"{key}.clean"]
        dry = await client.jobs.cleanup([clean.id, scored.id], dry_run=True)
        assert dry.deleted_jobs == [scored.id, clean.id] and dry.kept == []
        assert await backend(client).list_partitions("scored") == ["NP"]  # a dry run clears nothing
        report = await client.jobs.cleanup([clean.id, scored.id])
        assert report.deleted_jobs == [scored.id, clean.id]
        assert report.deleted_artifacts == [f"{key}.scored", f"{key}.clean"]
        assert await backend(client).list_partitions("scored") == []
        assert await backend(client).list_partitions("clean") == []
        assert await records(client, f"{key}.raw") == REVIEWS  # the uploaded input stays
        assert (await client.jobs.get(clean.id)).state is JobState.SUCCEEDED  # DSS keeps its job history

    async def test_a_dataset_still_built_from_is_not_cleared(self, dss: ClientFactory) -> None:
        client = dss("CHAIN")
        key = key_of(client)
        clean, _ = await self.scored(client)
        with pytest.raises(Conflict) as refused:
            await client.jobs.delete(clean.id, delete_outputs=True)
        [blocker] = refused.value.details["blockers"]
        assert (blocker["kind"], blocker["id"], blocker["by"]) == ("consumer", f"{key}.clean", f"{key}.scored")
        assert "still has data (NP); clear it first" in blocker["reason"]
        report = await client.jobs.cleanup([clean.id])
        assert report.deleted_jobs == [] and [k.id for k in report.kept] == [clean.id]
        assert f"{key}.scored" in report.kept[0].reason
        assert await backend(client).list_partitions("clean") == ["NP"]
        with pytest.raises(Conflict, match=f"{key}.scored is built from {key}.clean"):
            await client.artifacts.delete(f"{key}.clean")
        plan = await client.artifacts.delete(f"{key}.scored")  # nothing is built from scored
        assert plan.allowed and [s.id for s in plan.steps] == [f"{key}.scored"]
        assert (await client.artifacts.delete(f"{key}.clean")).allowed

    async def test_only_an_ended_job_with_its_outputs_is_deleted(self, dss: ClientFactory) -> None:
        client = dss("DEFAULT")
        key = key_of(client)
        done = await wait(client, (await build(client, "dataset_to_build")).id)
        with pytest.raises(Conflict) as kept:
            await client.jobs.delete(done.id)
        assert [b["kind"] for b in kept.value.details["blockers"]] == ["outputs"]
        plan = await client.jobs.delete(done.id, delete_outputs=True, dry_run=True)
        assert plan.dry_run and [s.action for s in plan.steps] == ["delete_artifact", "delete_job"]
        assert await backend(client).list_partitions("dataset_to_build") == ["NP"]
        await client.jobs.delete(done.id, delete_outputs=True)
        assert await backend(client).list_partitions("dataset_to_build") == []
        assert await records(client, f"{key}.dataset_to_build") == []
        slow = await until(client, (await build(client, "dk_slow")).id, "RUNNING")
        with pytest.raises(Conflict, match="is RUNNING; abort it and wait until it has ended"):
            await client.jobs.delete(slow.id, delete_outputs=True)
        await client.jobs.cancel(slow.id)


class TestErrors:
    async def test_unknown_things(self, dss: ClientFactory) -> None:
        client = dss("DEFAULT")
        key = key_of(client)
        with pytest.raises(NotFound, match=f"Job build_nope not found in project {key}") as missing:
            await client.jobs.get("build_nope")
        assert missing.value.code == "com.dataiku.dip.exceptions.UnknownObjectException"
        with pytest.raises(NotFound, match=r"outputs\.0\.id: dataset .*\.nope does not exist .* no step compute_nope"):
            await build(client, "nope")
        with pytest.raises(ValueError, match=r"step: project .* has no recipe 'sentiment'; its recipes: compute_"):
            await client.jobs.create(step="sentiment", artifacts=["x.y"])
        with pytest.raises(ValueError, match="timeout: DSS jobs have no time limit"):
            await client.jobs.create(step="compute_dataset_to_build", artifacts=["x.y"], timeout=5)
        chain = dss("CHAIN")
        with pytest.raises(ValueError, match=r"input\.artifacts\.0: recipe compute_scored reads clean"):
            await chain.jobs.create(step="compute_scored", artifacts=[f"{key_of(chain)}.raw"])
        assert (await client.jobs.list()).data == []  # nothing was started

    async def test_a_wrong_api_key_is_refused_without_showing_it(self, dataiku_service: ServiceProcess) -> None:
        async with jobnode.AsyncClient(
            dataiku_service.url, "not-the-key", platform="dataiku", project_key="ANY"
        ) as client:
            with pytest.raises(AuthenticationError) as refused:
                await client.jobs.list()
        assert refused.value.status_code == 401 and "not-the-key" not in str(refused.value)
        assert refused.value.code == "com.dataiku.dip.exceptions.UnauthorizedException"

    async def test_a_dry_run_starts_nothing(self, dss: ClientFactory) -> None:
        client = dss("CHAIN")
        key = key_of(client)
        plan = await client.jobs.plan(step="compute_clean", items=REVIEWS, params={"type": "RECURSIVE_BUILD"})
        assert plan.platform == "dataiku" and plan.items_total == 3
        assert plan.input_artifacts == [f"{key}.raw"]
        assert plan.request == {
            "type": "RECURSIVE_BUILD",
            "outputs": [{"id": "clean", "type": "DATASET", "projectKey": None, "partition": "NP"}],
            "refreshHiveMetastore": False,
            "autoUpdateSchemaBeforeEachRecipeRun": False,
            "uploadTo": "raw",
        }
        assert (await client.jobs.list()).data == []
        assert await backend(client).list_partitions("raw") == []
