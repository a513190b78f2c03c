"""Flow runs end to end: the session's Prefect test server, the real local service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import flow, task
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.states import State
from prefect.transactions import transaction

import jobnode
from jobnode.client import CleanupReport
from jobnode.core.models import ItemsInput, Job, JobSpec, JobState
from jobnode.prefect import (
    JobnodeCredentials,
    cancel_remote_jobs,
    cleanup_jobs,
    flow_run_tag,
    run_batch_job,
    submit_job,
    submit_job_sync,
    wait_for_job,
    wait_for_job_sync,
)


def sleeping(seconds: float = 60.0) -> JobSpec:
    return JobSpec(name="sleepy", step="sleep", params={"seconds": seconds}, input=ItemsInput(items=[1]))


def flaky_items(marker_dir: Path, fail: list[int]) -> JobSpec:
    """Four items; those in `fail` fail the first time a job runs them, and succeed after."""
    return JobSpec(
        name="flaky",
        step="flaky",
        params={"marker_dir": str(marker_dir), "fail_items": fail},
        input=ItemsInput(items=[0, 1, 2, 3]),
    )


def identity(n: int = 5) -> JobSpec:
    return JobSpec(name="ok", step="identity", input=ItemsInput(items=list(range(n))), batch_size=2)


def flow_run_id(state: State[Any]) -> str:
    assert state.state_details.flow_run_id is not None
    return str(state.state_details.flow_run_id)


def jobs_of(client: jobnode.Client, run_id: str) -> list[Job]:
    return client.jobs.list(tag=flow_run_tag(run_id)).data


async def artifacts_of(run_id: str) -> dict[str, Any]:
    async with get_client() as prefect:
        found = await prefect.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(run_id)]))
        )
    return {a.key: a.data for a in found if a.key}


async def read_flow_run(run_id: str) -> FlowRun:
    async with get_client() as prefect:
        return await prefect.read_flow_run(UUID(run_id))


class TestRunBatchJob:
    async def test_success_shows_progress_logs_and_counts_then_cleans_up(
        self, credentials: JobnodeCredentials, client: jobnode.Client
    ) -> None:
        state = await run_batch_job(identity(5), credentials=credentials, return_state=True)
        assert state.is_completed()
        job = await state.result()
        assert job.state is JobState.SUCCEEDED
        with pytest.raises(jobnode.NotFound):
            client.jobs.get(job.id)
        artifacts = await artifacts_of(flow_run_id(state))
        suffix = job.id.replace("_", "-")
        assert float(artifacts[f"jobnode-progress-{suffix}"]) == 100.0
        assert "| info | 5 |" in artifacts[f"jobnode-logs-{suffix}"]
        # the job's page in the service's console
        assert f"[Open the job]({credentials.url}/ui/jobs/{job.id})" in artifacts[f"jobnode-logs-{suffix}"]
        [row] = json.loads(artifacts[f"jobnode-items-{suffix}"])
        assert (row["job"], row["items processed"], row["items failed"]) == (job.id, 5, 0)
        assert credentials.token is not None
        stored = (await read_flow_run(flow_run_id(state))).parameters
        assert stored["credentials"]["url"] == credentials.url
        assert credentials.token.get_secret_value() not in json.dumps(stored)

    async def test_cleanup_can_be_left_out(self, credentials: JobnodeCredentials, client: jobnode.Client) -> None:
        job = await run_batch_job(identity(1), credentials=credentials, cleanup=False)
        assert client.jobs.get(job.id).outputs

    async def test_a_failing_job_fails_the_flow_with_its_reason_and_keeps_it(
        self, credentials: JobnodeCredentials, client: jobnode.Client
    ) -> None:
        spec = JobSpec(name="fails", step="fail", input=ItemsInput(items=[1, 2, 3]), params={"fail_items": [2]})
        state = await run_batch_job(spec, credentials=credentials, return_state=True)
        assert state.is_failed()
        with pytest.raises(jobnode.JobFailed, match="1 of 3 items failed"):
            await state.result()
        [job] = jobs_of(client, flow_run_id(state))
        assert job.state is JobState.FAILED
        logs = (await artifacts_of(flow_run_id(state)))[f"jobnode-logs-{job.id.replace('_', '-')}"]
        assert "failed on purpose" in logs

    async def test_a_timeout_cancels_the_remote_job(
        self, credentials: JobnodeCredentials, client: jobnode.Client
    ) -> None:
        state = await run_batch_job(sleeping(), credentials=credentials, timeout=1, return_state=True)
        assert state.is_failed()
        with pytest.raises(jobnode.WaitTimeout):
            await state.result()
        [job] = jobs_of(client, flow_run_id(state))
        assert job.state is JobState.CANCELLED


class TestCleanup:
    async def test_cleans_up_the_flow_runs_jobs_in_lineage_order(
        self, credentials: JobnodeCredentials, client: jobnode.Client
    ) -> None:
        @flow
        async def chained_then_tidy() -> tuple[Job, Job, CleanupReport, CleanupReport]:
            first = await submit_job(identity(3), credentials=credentials)
            first = await wait_for_job(first.id, credentials=credentials)
            second = await submit_job(
                credentials=credentials, name="reads-first", step="identity", artifacts=[first.outputs[0].id]
            )
            second = await wait_for_job(second.id, credentials=credentials)
            planned = await cleanup_jobs(credentials=credentials, dry_run=True)
            return first, second, planned, await cleanup_jobs(credentials=credentials)

        first, second, planned, done = await chained_then_tidy()
        assert planned.plan.dry_run
        assert planned.deleted_jobs == done.deleted_jobs == [second.id, first.id]
        for job in (first, second):
            with pytest.raises(jobnode.NotFound):
                client.jobs.get(job.id)


class TestReattach:
    def test_a_retried_task_reattaches(self, credentials: JobnodeCredentials, client: jobnode.Client) -> None:
        attempts: list[str] = []

        @task(retries=1, retry_delay_seconds=0)
        def submit_and_lose_the_reply() -> Job:
            job = submit_job_sync.fn(sleeping(0), credentials=credentials)
            attempts.append(job.id)
            if len(attempts) == 1:
                raise ConnectionError("the worker died after the job was created")
            return job

        @flow
        def submitting() -> Job:
            return submit_and_lose_the_reply()

        state = submitting(return_state=True)
        assert state.is_completed()
        assert len(attempts) == 2
        assert [j.id for j in jobs_of(client, flow_run_id(state))] == [attempts[0]] == [attempts[1]]

    async def test_a_retried_flow_run_reattaches_to_a_job_that_still_runs(
        self, credentials: JobnodeCredentials, client: jobnode.Client
    ) -> None:
        crashes: list[int] = []

        @task
        def flaky() -> None:
            if not crashes:
                crashes.append(1)
                raise RuntimeError("the flow run crashed while its job ran")

        @flow(retries=1, retry_delay_seconds=0)
        async def submit_then_flaky() -> Job:
            job = await submit_job(sleeping(2), credentials=credentials)
            flaky()
            return await wait_for_job(job.id, credentials=credentials)

        state = await submit_then_flaky(return_state=True)
        assert state.is_completed()
        run_id = flow_run_id(state)
        async with get_client() as prefect:
            task_runs = await prefect.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(run_id)]))
            )
        assert len([t for t in task_runs if t.name.startswith("Submit jobnode job")]) == 2
        [job] = jobs_of(client, run_id)
        assert job.state is JobState.SUCCEEDED

    async def test_a_retried_flow_run_after_its_job_failed_starts_a_new_job(
        self, credentials: JobnodeCredentials, client: jobnode.Client, tmp_path: Path
    ) -> None:
        spec = flaky_items(tmp_path, [1, 3])

        @flow(retries=1, retry_delay_seconds=0)
        async def submit_and_wait() -> Job:
            job = await submit_job(spec, credentials=credentials)
            return await wait_for_job(job.id, credentials=credentials)

        state = await submit_and_wait(return_state=True)
        assert state.is_completed()
        jobs = sorted(jobs_of(client, flow_run_id(state)), key=lambda j: j.created_at or 0)
        assert [(j.state, j.progress.items_total) for j in jobs] == [(JobState.FAILED, 4), (JobState.SUCCEEDED, 4)]
        assert (await state.result()).id == jobs[1].id

    async def test_retry_from_failure_runs_only_the_failed_items_again(
        self, credentials: JobnodeCredentials, client: jobnode.Client, tmp_path: Path
    ) -> None:
        spec = flaky_items(tmp_path, [1, 3])

        @flow(retries=1, retry_delay_seconds=0)
        async def submit_and_wait() -> Job:
            job = await submit_job(spec, credentials=credentials, retry_from_failure=True)
            return await wait_for_job(job.id, credentials=credentials)

        state = await submit_and_wait(return_state=True)
        assert state.is_completed()
        done = await state.result()
        assert (done.state, done.progress.items_total) == (JobState.SUCCEEDED, 2)
        chain = client.jobs.resubmission_chain(done)
        assert sorted(r for job in chain for a in job.outputs for r in client.artifacts.read(a.id)) == [0, 1, 2, 3]

    def test_a_task_with_retries_that_submits_inside_keeps_its_one_job(
        self, credentials: JobnodeCredentials, client: jobnode.Client
    ) -> None:
        attempts: list[str] = []

        @task(retries=1, retry_delay_seconds=0)
        def submit_and_check() -> Job:
            job = submit_job_sync(sleeping(2), credentials=credentials)  # a task run nested in this one
            attempts.append(job.id)
            if len(attempts) == 1:
                raise RuntimeError("a check after the submit failed once")
            return job

        @flow
        def submitting() -> Job:
            job = submit_and_check()
            return wait_for_job_sync(job.id, credentials=credentials)

        state = submitting(return_state=True)
        assert state.is_completed()
        assert attempts[0] == attempts[1]
        [job] = jobs_of(client, flow_run_id(state))  # the failed attempt's rollback neither cancelled nor deleted it
        assert job.state is JobState.SUCCEEDED
        assert "cancelled" not in {e.type for e in client.jobs.events(job.id)}


class TestPrefectTimeouts:
    async def test_a_task_timeout_cancels_the_remote_job(
        self, credentials: JobnodeCredentials, client: jobnode.Client
    ) -> None:
        @flow
        async def impatient() -> None:
            job = await submit_job(sleeping(), credentials=credentials)
            await wait_for_job.with_options(timeout_seconds=1)(job.id, credentials=credentials)

        state = await impatient(return_state=True)
        assert state.is_failed()
        [job] = jobs_of(client, flow_run_id(state))
        assert job.state is JobState.CANCELLED

    def test_a_sync_task_timeout_cancels_the_remote_job(
        self, credentials: JobnodeCredentials, client: jobnode.Client
    ) -> None:
        @flow
        def impatient() -> None:
            job = submit_job_sync(sleeping(), credentials=credentials)
            wait_for_job_sync.with_options(timeout_seconds=1)(job.id, credentials=credentials)

        state = impatient(return_state=True)
        assert state.is_failed()
        [job] = jobs_of(client, flow_run_id(state))
        assert job.state is JobState.CANCELLED


@task
def explode() -> None:
    raise RuntimeError("a later task failed")


class TestRollback:
    def test_a_failed_transaction_cancels_and_deletes_the_job(
        self, credentials: JobnodeCredentials, client: jobnode.Client
    ) -> None:
        submitted: list[Job] = []

        @flow
        def all_or_nothing() -> None:
            with transaction():
                submitted.append(submit_job_sync(sleeping(), credentials=credentials))
                explode()

        assert all_or_nothing(return_state=True).is_failed()
        self.assert_undone(client, submitted[0])

    async def test_an_async_flow_rolls_back_too(self, credentials: JobnodeCredentials, client: jobnode.Client) -> None:
        submitted: list[Job] = []

        @flow
        async def all_or_nothing() -> None:
            with transaction():
                submitted.append(await submit_job(sleeping(), credentials=credentials))
                explode()

        assert (await all_or_nothing(return_state=True)).is_failed()
        self.assert_undone(client, submitted[0])

    def test_a_committed_transaction_keeps_the_job(
        self, credentials: JobnodeCredentials, client: jobnode.Client
    ) -> None:
        @flow
        def all_good() -> Job:
            with transaction():
                return submit_job_sync(identity(1), credentials=credentials)

        job = all_good()
        assert client.jobs.get(job.id).id == job.id

    @staticmethod
    def assert_undone(client: jobnode.Client, job: Job) -> None:
        with pytest.raises(jobnode.NotFound):
            client.jobs.get(job.id)
        assert {"cancelled", "deleted"} <= {e.type for e in client.jobs.events(job.id)}


class TestCancellationHook:
    """The hook as Prefect's runner calls it: in another process, with nothing but the flow run."""

    @staticmethod
    async def submit_and_leave(credentials: JobnodeCredentials | None) -> str:
        @flow
        async def leave_running(credentials: JobnodeCredentials | None = None) -> None:
            await submit_job(sleeping(3600), credentials=credentials)  # still running when the hook runs, however slow

        return flow_run_id(await leave_running(credentials, return_state=True))

    async def test_cancels_the_flow_runs_running_jobs(
        self, credentials: JobnodeCredentials, client: jobnode.Client, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("JOBNODE_URL", credentials.url or "")
        monkeypatch.setenv("JOBNODE_TOKEN", credentials.token.get_secret_value() if credentials.token else "")
        run_id = await self.submit_and_leave(None)
        flow_run = await read_flow_run(run_id)
        await cancel_remote_jobs()(flow=run_batch_job, flow_run=flow_run, state=flow_run.state)
        assert [j.state for j in jobs_of(client, run_id)] == [JobState.CANCELLED]

    async def test_finds_the_saved_credentials_block_of_the_flow_run(
        self, credentials: JobnodeCredentials, client: jobnode.Client
    ) -> None:
        await credentials.save("hook-credentials", overwrite=True)
        saved = await JobnodeCredentials.aload("hook-credentials")
        run_id = await self.submit_and_leave(saved)
        flow_run = await read_flow_run(run_id)
        await cancel_remote_jobs()(flow=run_batch_job, flow_run=flow_run, state=flow_run.state)
        assert [j.state for j in jobs_of(client, run_id)] == [JobState.CANCELLED]

    async def test_follows_a_block_reference_set_in_the_ui(
        self, credentials: JobnodeCredentials, client: jobnode.Client
    ) -> None:
        document_id = await credentials.save("hook-credentials-ref", overwrite=True)
        run_id = await self.submit_and_leave(await JobnodeCredentials.aload("hook-credentials-ref"))
        flow_run = await read_flow_run(run_id)
        as_set_in_the_ui = {"credentials": {"$ref": {"block_document_id": str(document_id)}}}
        flow_run = flow_run.model_copy(update={"parameters": as_set_in_the_ui})
        await cancel_remote_jobs()(flow=run_batch_job, flow_run=flow_run, state=flow_run.state)
        assert [j.state for j in jobs_of(client, run_id)] == [JobState.CANCELLED]
