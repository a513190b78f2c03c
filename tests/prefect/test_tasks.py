"""Task logic through `.fn(...)`, outside any flow run, against the real local service."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

import jobnode
from jobnode.core.models import ItemsInput, JobSpec, JobState
from jobnode.prefect import (
    JobnodeCredentials,
    cancel_job,
    cancel_job_sync,
    cleanup_jobs,
    cleanup_jobs_sync,
    fetch_job_logs,
    fetch_job_logs_sync,
    submit_job,
    submit_job_sync,
    wait_for_job,
    wait_for_job_sync,
)
from jobnode.service.process import ServiceProcess


def sleeping(seconds: float = 30.0, name: str = "sleepy") -> JobSpec:
    return JobSpec(name=name, step="sleep", params={"seconds": seconds}, input=ItemsInput(items=[1]))


async def until_running(client: jobnode.AsyncClient, job_id: str) -> None:
    async for job in client.jobs.watch([job_id]):
        if job.state is JobState.RUNNING or job.is_terminal:
            return


class TestSubmit:
    async def test_fields_make_the_job(self, credentials: JobnodeCredentials) -> None:
        job = await submit_job.fn(credentials=credentials, name="fields", step="identity", items=[1, 2], batch_size=1)
        assert (job.name, job.step, job.progress.items_total) == ("fields", "identity", 2)

    async def test_spec_and_fields_together_are_refused(self, credentials: JobnodeCredentials) -> None:
        with pytest.raises(ValueError, match="not both"):
            await submit_job.fn(sleeping(), credentials=credentials, name="other")

    async def test_a_missing_input_says_how_to_give_one(self, credentials: JobnodeCredentials) -> None:
        with pytest.raises(ValueError, match="items="):
            await submit_job.fn(credentials=credentials, name="no-input", step="identity")

    async def test_an_unknown_step_is_refused_naming_the_field(self, credentials: JobnodeCredentials) -> None:
        with pytest.raises(jobnode.ValidationFailed, match="step"):
            await submit_job.fn(credentials=credentials, name="typo", step="no-such-step", items=[1])

    async def test_outside_a_flow_run_each_submit_is_a_new_job(self, credentials: JobnodeCredentials) -> None:
        first = await submit_job.fn(sleeping(0), credentials=credentials)
        second = await submit_job.fn(sleeping(0), credentials=credentials)
        assert first.id != second.id
        assert not [t for t in first.tags if t.startswith("prefect-flow-run:")]

    async def test_a_key_reattaches(self, credentials: JobnodeCredentials, aclient: jobnode.AsyncClient) -> None:
        first = await submit_job.fn(sleeping(0), credentials=credentials, key="reattach-me")
        again = await submit_job.fn(sleeping(0), credentials=credentials, key="reattach-me")
        assert again.id == first.id

    async def test_a_key_with_another_request_is_another_job(self, credentials: JobnodeCredentials) -> None:
        one = await submit_job.fn(sleeping(0, "one"), credentials=credentials, key="used-twice")
        two = await submit_job.fn(sleeping(0, "two"), credentials=credentials, key="used-twice")
        assert one.id != two.id

    async def test_a_deleted_job_is_replaced_once(
        self, credentials: JobnodeCredentials, aclient: jobnode.AsyncClient
    ) -> None:
        first = await submit_job.fn(sleeping(0), credentials=credentials, key="deleted-then-again")
        await aclient.jobs.wait(first.id, timeout=30)
        await aclient.jobs.delete(first.id, delete_outputs=True)
        second = await submit_job.fn(sleeping(0), credentials=credentials, key="deleted-then-again")
        third = await submit_job.fn(sleeping(0), credentials=credentials, key="deleted-then-again")
        assert second.id != first.id
        assert third.id == second.id


class TestWait:
    async def test_success(self, credentials: JobnodeCredentials) -> None:
        job = await submit_job.fn(credentials=credentials, name="ok", step="identity", items=list(range(10)))
        done = await wait_for_job.fn(job.id, credentials=credentials, timeout=30)
        assert done.state is JobState.SUCCEEDED
        assert done.progress.items_processed == 10

    async def test_a_failed_job_raises_its_reason(self, credentials: JobnodeCredentials) -> None:
        job = await submit_job.fn(
            credentials=credentials, name="fails", step="fail", items=[1, 2, 3, 4], params={"fail_items": [2]}
        )
        with pytest.raises(jobnode.JobFailed, match="1 of 4 items failed") as caught:
            await wait_for_job.fn(job.id, credentials=credentials, timeout=30)
        assert [e.item for e in caught.value.errors] == ["1"]

    async def test_a_failed_job_can_be_returned(self, credentials: JobnodeCredentials) -> None:
        job = await submit_job.fn(
            credentials=credentials, name="fails", step="fail", items=[1], params={"fail_items": [1]}
        )
        done = await wait_for_job.fn(job.id, credentials=credentials, timeout=30, raise_on_failure=False)
        assert done.state is JobState.FAILED

    async def test_a_timeout_cancels_the_remote_job(
        self, credentials: JobnodeCredentials, aclient: jobnode.AsyncClient
    ) -> None:
        job = await submit_job.fn(sleeping(), credentials=credentials)
        with pytest.raises(jobnode.WaitTimeout):
            await wait_for_job.fn(job.id, credentials=credentials, timeout=0.5)
        assert (await aclient.jobs.get(job.id)).state is JobState.CANCELLED

    async def test_a_timeout_can_leave_the_job_running(
        self, credentials: JobnodeCredentials, aclient: jobnode.AsyncClient
    ) -> None:
        job = await submit_job.fn(sleeping(), credentials=credentials)
        with pytest.raises(jobnode.WaitTimeout):
            await wait_for_job.fn(job.id, credentials=credentials, timeout=0.5, cancel_on_timeout=False)
        assert not (await aclient.jobs.get(job.id)).is_terminal
        await aclient.jobs.cancel(job.id)

    async def test_an_interrupted_wait_cancels_the_remote_job(
        self, credentials: JobnodeCredentials, aclient: jobnode.AsyncClient
    ) -> None:
        job = await submit_job.fn(sleeping(), credentials=credentials)
        waiting = asyncio.create_task(wait_for_job.fn(job.id, credentials=credentials))
        await until_running(aclient, job.id)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert (await aclient.jobs.get(job.id)).state is JobState.CANCELLED

    def test_a_service_restart_does_not_fail_the_wait(self, fresh_service: ServiceProcess) -> None:
        credentials = JobnodeCredentials(url=fresh_service.url, token=fresh_service.token)
        job = submit_job_sync.fn(sleeping(3), credentials=credentials)
        with credentials.get_client() as client:
            for seen in client.jobs.watch([job.id]):
                if seen.state is JobState.RUNNING:
                    break
        restart = threading.Thread(target=fresh_service.restart)
        restart.start()
        try:
            done = wait_for_job_sync.fn(job.id, credentials=credentials, timeout=120)
        finally:
            restart.join()
        assert done.state is JobState.SUCCEEDED

    async def test_progress_lines_are_logged(
        self, credentials: JobnodeCredentials, caplog: pytest.LogCaptureFixture
    ) -> None:
        job = await submit_job.fn(credentials=credentials, name="lines", step="identity", items=[1, 2, 3])
        with caplog.at_level(logging.INFO, logger="jobnode.prefect"):
            await wait_for_job.fn(job.id, credentials=credentials, timeout=30)
        assert f"{job.id}: succeeded, 3/3 items (100%)" in caplog.text


class TestFetchLogs:
    async def test_every_entry_reaches_the_logger_at_its_level(
        self, credentials: JobnodeCredentials, caplog: pytest.LogCaptureFixture
    ) -> None:
        job = await submit_job.fn(
            credentials=credentials, name="logs", step="fail", items=[1, 2, 3, 4], params={"fail_items": [2, 4]}
        )
        await wait_for_job.fn(job.id, credentials=credentials, timeout=30, raise_on_failure=False)
        caplog.clear()  # only what the fetch logs: the wait's progress lines name the job too
        with caplog.at_level(logging.DEBUG, logger="jobnode.prefect"):
            summary = await fetch_job_logs.fn(job.id, credentials=credentials, first_errors=1)
        lines = [r for r in caplog.records if r.getMessage().startswith(job.id)]
        assert [r.levelno for r in lines] == [logging.INFO, logging.ERROR, logging.INFO, logging.ERROR]
        assert "ItemFailed item=1 status=Failed" in lines[1].getMessage()
        assert "failed on purpose" in lines[1].getMessage()
        assert (summary.entries, summary.by_level) == (4, {"info": 2, "error": 2})
        assert [e.item for e in summary.first_errors] == ["1"]

    async def test_filters_by_level(self, credentials: JobnodeCredentials) -> None:
        job = await submit_job.fn(
            credentials=credentials, name="logs", step="fail", items=[1, 2, 3], params={"fail_items": [3]}
        )
        await wait_for_job.fn(job.id, credentials=credentials, timeout=30, raise_on_failure=False)
        summary = await fetch_job_logs.fn(job.id, credentials=credentials, min_level="error")
        assert summary.by_level == {"error": 1}

    async def test_filters_by_time(self, credentials: JobnodeCredentials) -> None:
        job = await submit_job.fn(credentials=credentials, name="logs", step="identity", items=[1, 2])
        done = await wait_for_job.fn(job.id, credentials=credentials, timeout=30)
        assert done.created_at is not None and done.ended_at is not None
        before = await fetch_job_logs.fn(job.id, credentials=credentials, before_time=done.created_at)
        during = await fetch_job_logs.fn(job.id, credentials=credentials, after_time=done.created_at)
        assert (before.entries, during.entries) == (0, 2)

    async def test_a_log_of_many_pages_is_streamed_whole(self, credentials: JobnodeCredentials) -> None:
        job = await submit_job.fn(
            credentials=credentials, name="big", step="identity", items=list(range(2500)), batch_size=500
        )
        await wait_for_job.fn(job.id, credentials=credentials, timeout=60)
        summary = await fetch_job_logs.fn(job.id, credentials=credentials)
        assert summary.by_level.get("info") == 2500


class TestCancel:
    async def test_cancel_stops_the_job(self, credentials: JobnodeCredentials, aclient: jobnode.AsyncClient) -> None:
        job = await submit_job.fn(sleeping(), credentials=credentials)
        await until_running(aclient, job.id)
        cancelled = await cancel_job.fn(job.id, credentials=credentials)
        assert cancelled.state is JobState.CANCELLED

    async def test_cancelling_an_ended_job_changes_nothing(self, credentials: JobnodeCredentials) -> None:
        job = await submit_job.fn(credentials=credentials, name="done", step="identity", items=[1])
        await wait_for_job.fn(job.id, credentials=credentials, timeout=30)
        assert (await cancel_job.fn(job.id, credentials=credentials)).state is JobState.SUCCEEDED


class TestCleanup:
    async def test_deletes_jobs_and_their_outputs(
        self, credentials: JobnodeCredentials, aclient: jobnode.AsyncClient
    ) -> None:
        job = await submit_job.fn(credentials=credentials, name="tidy", step="identity", items=[1])
        job = await wait_for_job.fn(job.id, credentials=credentials, timeout=30)
        report = await cleanup_jobs.fn([job.id], credentials=credentials)
        assert report.deleted_jobs == [job.id]
        assert report.deleted_artifacts == [job.outputs[0].id]
        with pytest.raises(jobnode.NotFound):
            await aclient.jobs.get(job.id)

    async def test_a_dry_run_deletes_nothing(
        self, credentials: JobnodeCredentials, aclient: jobnode.AsyncClient
    ) -> None:
        job = await submit_job.fn(credentials=credentials, name="tidy", step="identity", items=[1])
        job = await wait_for_job.fn(job.id, credentials=credentials, timeout=30)
        report = await cleanup_jobs.fn([job.id], credentials=credentials, dry_run=True)
        assert report.plan.dry_run
        assert (report.deleted_jobs, report.deleted_artifacts) == ([job.id], [job.outputs[0].id])
        assert (await aclient.jobs.get(job.id)).outputs == job.outputs

    async def test_keeps_what_is_protected_or_running(
        self, credentials: JobnodeCredentials, caplog: pytest.LogCaptureFixture
    ) -> None:
        done = await submit_job.fn(credentials=credentials, name="keep", step="identity", items=[1])
        done = await wait_for_job.fn(done.id, credentials=credentials, timeout=30)
        running = await submit_job.fn(sleeping(), credentials=credentials)
        with caplog.at_level(logging.INFO, logger="jobnode.prefect"):
            report = await cleanup_jobs.fn([done.id, running.id], credentials=credentials, protect=[done.outputs[0].id])
        assert report.deleted_jobs == []
        assert {b.id for b in report.kept} == {done.id, running.id}
        assert f"not deleted: job {done.id} is kept: its output {done.outputs[0].id} is protected" in caplog.text
        assert "kept kept" not in caplog.text
        await cancel_job.fn(running.id, credentials=credentials)

    async def test_outside_a_flow_run_the_jobs_must_be_named(self, credentials: JobnodeCredentials) -> None:
        with pytest.raises(ValueError, match="job_ids"):
            await cleanup_jobs.fn(credentials=credentials)


def test_sync_twins_share_the_logic(credentials: JobnodeCredentials, client: jobnode.Client) -> None:
    job = submit_job_sync.fn(
        credentials=credentials, name="twins", step="fail", items=[1, 2], params={"fail_items": [2]}
    )
    with pytest.raises(jobnode.JobFailed, match="1 of 2 items failed"):
        wait_for_job_sync.fn(job.id, credentials=credentials, timeout=30)
    assert fetch_job_logs_sync.fn(job.id, credentials=credentials).by_level == {"info": 1, "error": 1}
    assert cancel_job_sync.fn(job.id, credentials=credentials).state is JobState.FAILED
    assert cleanup_jobs_sync.fn([job.id], credentials=credentials).deleted_jobs == [job.id]


async def test_sync_twins_work_under_a_running_loop(credentials: JobnodeCredentials) -> None:
    # a sync task called from an async flow runs on the flow's event loop thread
    job = submit_job_sync.fn(credentials=credentials, name="twins", step="identity", items=[1])
    assert wait_for_job_sync.fn(job.id, credentials=credentials, timeout=30).state is JobState.SUCCEEDED
