"""A real `prefect server start` and served deployments: cancelling a flow run cancels its remote job.

Prefect's runner stops the flow's process and runs the `on_cancellation` hook in its own process, so the hook finds
the job from its tag alone; `submit-and-hold` does not watch its job, so only the hook can have cancelled it.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from prefect.client.orchestration import PrefectClient, get_client
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Cancelling

import jobnode
from jobnode.core.models import ItemsInput, Job, JobSpec, JobState
from jobnode.prefect import flow_run_tag
from jobnode.service.process import ServiceProcess

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[3]
SLEEPING = JobSpec(name="cancel-me", step="sleep", params={"seconds": 300}, input=ItemsInput(items=[1]))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prefect_env(home: Path, api_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
    }


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prefect")


@pytest.fixture(scope="module")
def prefect_api(home: Path) -> Iterator[str]:
    """`prefect server start` on a free port of 127.0.0.1, with its own home and SQLite database."""
    tmp_path = home
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **prefect_env(tmp_path / "home", api_url),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}",
    }
    with (tmp_path / "server.log").open("wb") as log:
        server = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail(f"prefect server did not start: {(tmp_path / 'server.log').read_text()[-3000:]}")
        yield api_url
    finally:
        stop(server)


@pytest.fixture(scope="module")
def served(prefect_api: str, service: ServiceProcess, home: Path) -> Iterator[Path]:
    """The deployments `run-batch-job/e2e` and `submit-and-hold/e2e`, served with the service's URL and token."""
    env = {
        **prefect_env(home / "home", prefect_api),
        "JOBNODE_URL": service.url,
        "JOBNODE_TOKEN": service.token or "",
    }
    log_path = home / "serve.log"
    with log_path.open("wb") as log:
        runner = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.prefect.served_flows"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
    try:
        yield log_path
    finally:
        stop(runner)


@pytest.fixture
async def prefect(prefect_api: str) -> AsyncIterator[PrefectClient]:
    with temporary_settings({PREFECT_API_URL: prefect_api}):
        async with get_client() as client:
            yield client


async def eventually(what: str, check, timeout: float = 90.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


async def cancel_a_deployment_run(
    deployment: str, prefect: PrefectClient, aclient: jobnode.AsyncClient
) -> tuple[UUID, Job]:
    """Start a run of the deployment, wait until its remote job runs, cancel the flow run; return both ids."""

    async def registered():  # type: ignore[no-untyped-def]
        try:
            return await prefect.read_deployment_by_name(deployment)
        except ObjectNotFound:
            return None

    found = await eventually(f"the served deployment {deployment}", registered)
    flow_run = await prefect.create_flow_run_from_deployment(
        found.id, parameters={"spec": SLEEPING.model_dump(mode="json", exclude_none=True)}
    )

    async def running_job() -> Job | None:
        jobs = (await aclient.jobs.list(tag=flow_run_tag(str(flow_run.id)))).data
        return jobs[0] if jobs and jobs[0].state is JobState.RUNNING else None

    job = await eventually("the remote job to run", running_job)
    await prefect.set_flow_run_state(flow_run.id, Cancelling(), force=True)
    return flow_run.id, job


async def assert_cancelled(flow_run_id: UUID, job: Job, prefect: PrefectClient, aclient: jobnode.AsyncClient) -> None:
    done = await aclient.jobs.wait(job.id, timeout=90)
    assert done.state is JobState.CANCELLED

    async def flow_run_cancelled() -> bool:
        state = (await prefect.read_flow_run(flow_run_id)).state
        return state is not None and state.is_cancelled()

    await eventually("the flow run to be cancelled", flow_run_cancelled)


async def test_cancelling_run_batch_job_cancels_the_remote_job(
    served: Path, prefect: PrefectClient, aclient: jobnode.AsyncClient
) -> None:
    flow_run_id, job = await cancel_a_deployment_run("run-batch-job/e2e", prefect, aclient)
    await assert_cancelled(flow_run_id, job, prefect, aclient)


async def test_the_hook_alone_cancels_a_job_nobody_watches(
    served: Path, prefect: PrefectClient, aclient: jobnode.AsyncClient
) -> None:
    flow_run_id, job = await cancel_a_deployment_run("submit-and-hold/e2e", prefect, aclient)
    await assert_cancelled(flow_run_id, job, prefect, aclient)
