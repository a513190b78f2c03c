"""`JobnodeJob` / `JobnodeJobRun`, block registration and the `prefect.collections` entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from prefect import flow
from prefect.settings import PREFECT_API_URL

import jobnode
from jobnode.core.models import ItemsInput, JobSpec, JobState
from jobnode.prefect import JobnodeCredentials, JobnodeJob, JobnodeJobRun


def job_block(credentials: JobnodeCredentials, spec: JobSpec, **options: float) -> JobnodeJob:
    return JobnodeJob(credentials=credentials, spec=spec, **options)


FAILING = JobSpec(name="fails", step="fail", input=ItemsInput(items=[1, 2]), params={"fail_items": [1]})
SLEEPING = JobSpec(name="sleepy", step="sleep", input=ItemsInput(items=[1]), params={"seconds": 60})


class TestJobnodeJob:
    async def test_trigger_wait_and_fetch_the_result(self, credentials: JobnodeCredentials) -> None:
        spec = JobSpec(name="block", step="identity", input=ItemsInput(items=[1, 2, 3]))
        run = await job_block(credentials, spec).trigger()
        done = await run.wait_for_completion()
        assert done.state is JobState.SUCCEEDED
        result = await run.fetch_result()
        assert (result.job_id, result.sample) == (run.job_id, [1, 2, 3])
        assert [e.item async for e in run.logs()] == ["0", "1", "2"]
        plan = await run.delete()
        assert plan.allowed
        assert {s.id for s in plan.steps} >= {run.job_id}

    async def test_a_failed_job_raises_its_reason(self, credentials: JobnodeCredentials) -> None:
        run = await job_block(credentials, FAILING).trigger()
        with pytest.raises(jobnode.JobFailed, match="1 of 2 items failed"):
            await run.wait_for_completion()
        assert [e.item async for e in run.logs(min_level="error")] == ["0"]

    async def test_the_block_timeout_cancels_the_job(
        self, credentials: JobnodeCredentials, aclient: jobnode.AsyncClient
    ) -> None:
        run = await job_block(credentials, SLEEPING, timeout=0.5).trigger()
        with pytest.raises(jobnode.WaitTimeout):
            await run.wait_for_completion()
        assert (await aclient.jobs.get(run.job_id)).state is JobState.CANCELLED

    async def test_cancel_and_a_refused_delete(self, credentials: JobnodeCredentials) -> None:
        run = await job_block(credentials, SLEEPING).trigger()
        with pytest.raises(jobnode.Conflict, match="cancel"):
            await run.delete()
        assert (await run.cancel()).state is JobState.CANCELLED

    async def test_each_trigger_is_a_new_run(self, credentials: JobnodeCredentials) -> None:
        block = job_block(credentials, JobSpec(name="twice", step="identity", input=ItemsInput(items=[1])))

        @flow
        async def trigger_twice() -> tuple[JobnodeJobRun, JobnodeJobRun]:
            return await block.trigger(), await block.trigger()

        first, second = await trigger_twice()
        assert first.job_id != second.job_id

    async def test_a_trigger_with_a_key_is_idempotent_in_its_flow_run(self, credentials: JobnodeCredentials) -> None:
        block = job_block(credentials, JobSpec(name="keyed", step="identity", input=ItemsInput(items=[1])))

        @flow
        async def trigger_with_keys() -> list[JobnodeJobRun]:
            return [await block.trigger(key="a"), await block.trigger(key="a"), await block.trigger(key="b")]

        first, again, other = await trigger_with_keys()
        assert first.job_id == again.job_id != other.job_id

    def test_a_saved_block_loads_whole(self, credentials: JobnodeCredentials) -> None:
        job_block(credentials, FAILING, timeout=30).save("failing-job", overwrite=True)
        loaded = JobnodeJob.load("failing-job")
        assert (loaded.spec, loaded.timeout) == (FAILING, 30)
        assert loaded.credentials.token == credentials.token


def test_blocks_register_from_the_cli(tmp_path: Path) -> None:
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "PREFECT_HOME": str(tmp_path)}
    prefect = Path(sys.executable).parent / "prefect"
    done = subprocess.run(
        [str(prefect), "block", "register", "-m", "jobnode.prefect"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Jobnode Credentials" in done.stdout
    assert "Jobnode Job" in done.stdout


def test_prefect_finds_the_collection() -> None:
    [found] = [e for e in entry_points(group="prefect.collections") if e.name == "jobnode"]
    assert found.load() is __import__("jobnode.prefect").prefect
