"""A real `prefect server start`: served deployments whose cancelled flow runs cancel their remote jobs, and the
example flow deployed from `flows/prefect.yaml` and run by a process worker on its work pool.

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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import httpx
import pytest
from prefect.client.orchestration import PrefectClient, SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import State, StateType
from prefect.client.schemas.responses import DeploymentResponse
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Cancelling, Scheduled

import jobnode
from jobnode.core.models import ItemsInput, Job, JobSpec, JobState
from jobnode.prefect import JobnodeCredentials, NexusCredentials, flow_run_tag
from jobnode.service.process import ServiceProcess

pytestmark = pytest.mark.slow

T = TypeVar("T")
BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[3]
COMPLETED = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.COMPLETED])))
NIGHTLY = DeploymentFilter(name=DeploymentFilterName(any_=["nightly"]))
SLEEPING = JobSpec(name="cancel-me", step="sleep", params={"seconds": 300}, input=ItemsInput(items=[1]))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prefect_env(workdir: Path, api_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PREFECT_HOME": str(workdir / "home"),
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
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prefect")


@pytest.fixture(scope="module")
def prefect_api(workdir: Path) -> Iterator[str]:
    """`prefect server start` on a free port of 127.0.0.1, with its own home and SQLite database."""
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **prefect_env(workdir, api_url),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{workdir / 'prefect.db'}",
    }
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while not healthy(api_url):
            assert server.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, f"prefect server did not start: {log_path.read_text()[-3000:]}"
            time.sleep(0.5)
        yield api_url
    finally:
        stop(server)


def healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def served(prefect_api: str, service: ServiceProcess, workdir: Path) -> Iterator[None]:
    """The deployments `run-batch-job/e2e` and `submit-and-hold/e2e`, served with the service's URL and token."""
    env = {**prefect_env(workdir, prefect_api), "JOBNODE_URL": service.url, "JOBNODE_TOKEN": service.token or ""}
    with (workdir / "serve.log").open("wb") as log:
        runner = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.prefect.served_flows"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    yield
    stop(runner)


@pytest.fixture
async def prefect(prefect_api: str) -> AsyncIterator[PrefectClient]:
    with temporary_settings({PREFECT_API_URL: prefect_api}):
        async with get_client() as client:
            yield client


async def eventually(what: str, check: Callable[[], Awaitable[T | None]], timeout: float = 90.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


async def run_then_cancel(deployment: str, prefect: PrefectClient, aclient: jobnode.AsyncClient) -> tuple[UUID, Job]:
    """Start a run of the deployment, wait until its remote job runs, and cancel the flow run."""

    async def registered() -> DeploymentResponse | None:
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
    assert (await aclient.jobs.wait(job.id, timeout=90)).state is JobState.CANCELLED

    async def flow_run_cancelled() -> bool:
        state = (await prefect.read_flow_run(flow_run_id)).state
        return state is not None and state.is_cancelled()

    await eventually("the flow run to be cancelled", flow_run_cancelled)


@pytest.mark.usefixtures("served")
async def test_cancelling_run_batch_job_cancels_the_remote_job(
    prefect: PrefectClient, aclient: jobnode.AsyncClient
) -> None:
    flow_run_id, job = await run_then_cancel("run-batch-job/e2e", prefect, aclient)
    await assert_cancelled(flow_run_id, job, prefect, aclient)


@pytest.mark.usefixtures("served")
async def test_the_hook_alone_cancels_a_job_nobody_watches(
    prefect: PrefectClient, aclient: jobnode.AsyncClient
) -> None:
    flow_run_id, job = await run_then_cancel("submit-and-hold/e2e", prefect, aclient)
    await assert_cancelled(flow_run_id, job, prefect, aclient)


@pytest.fixture
def sync_prefect(prefect_api: str) -> Iterator[SyncPrefectClient]:
    with temporary_settings({PREFECT_API_URL: prefect_api}), get_client(sync_client=True) as client:
        yield client


def test_the_deployment_file_deploys_and_runs_on_a_worker(
    prefect_api: str, service: ServiceProcess, workdir: Path, sync_prefect: SyncPrefectClient
) -> None:
    flows = ROOT / "flows"
    env = {
        **prefect_env(workdir, prefect_api),
        "JOBNODE_URL": service.url,
        "JOBNODE_TOKEN": service.token or "",
        "JOBNODE_FLOWS_DIR": str(flows),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
    }
    for command in (["work-pool", "create", "jobnode", "--type", "process"], ["--no-prompt", "deploy", "--all"]):
        done = subprocess.run([str(BIN / "prefect"), *command], env=env, cwd=flows, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stdout.decode()[-3000:] + done.stderr.decode()[-3000:]
    deployment = sync_prefect.read_deployment_by_name("jobnode-example/nightly")
    assert [s.schedule.cron for s in deployment.schedules] == ["0 3 * * *"]  # type: ignore[union-attr]

    with (workdir / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", "jobnode"],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        flow_run = sync_prefect.create_flow_run_from_deployment(deployment.id)
        deadline = time.monotonic() + 120
        while not ((state := sync_prefect.read_flow_run(flow_run.id).state) and state.is_final()):
            assert time.monotonic() < deadline, (workdir / "worker.log").read_text()[-3000:]
            time.sleep(1)
        assert state.is_completed(), (workdir / "worker.log").read_text()[-3000:]
    finally:
        stop(worker)


@pytest.mark.usefixtures("served")
async def test_a_deployment_parameter_can_reference_a_saved_credentials_block(
    prefect: PrefectClient, service: ServiceProcess, aclient: jobnode.AsyncClient
) -> None:
    """What the Prefect UI sends when a user picks a saved block for a parameter: `{"$ref": ...}`."""
    local = await JobnodeCredentials(url=service.url, token=service.token).save("e2e-local", overwrite=True)
    nexus = await NexusCredentials(project_id="proj_e2e").save("e2e-nexus", overwrite=True)
    deployment = await prefect.read_deployment_by_name("run-batch-job/e2e")
    spec = JobSpec(name="by-reference", step="identity", input=ItemsInput(items=[1, 2]))

    def parameters(document_id: UUID) -> dict[str, object]:
        reference = {"$ref": {"block_document_id": str(document_id)}}
        return {"spec": spec.model_dump(mode="json", exclude_none=True), "credentials": reference, "cleanup": False}

    # another platform's block is a valid value too (the server only checks it; it runs tomorrow, so never here)
    tomorrow = Scheduled(scheduled_time=datetime.now(UTC) + timedelta(days=1))
    later = await prefect.create_flow_run_from_deployment(deployment.id, parameters=parameters(nexus), state=tomorrow)
    await prefect.delete_flow_run(later.id)
    flow_run = await prefect.create_flow_run_from_deployment(deployment.id, parameters=parameters(local))

    async def ended() -> State[Any] | None:
        state = (await prefect.read_flow_run(flow_run.id)).state
        return state if state is not None and state.is_final() else None

    assert (await eventually("the flow run to end", ended)).is_completed()
    [job] = (await aclient.jobs.list(tag=flow_run_tag(str(flow_run.id)))).data
    assert job.state is JobState.SUCCEEDED  # run with the referenced block's URL and token


def test_a_served_flow_s_cron_schedule_fires_and_its_run_completes(
    prefect_api: str, service: ServiceProcess, workdir: Path, sync_prefect: SyncPrefectClient
) -> None:
    """The example flow served every minute: the Prefect scheduler (not the test) creates the run, and it completes."""
    env = {**prefect_env(workdir, prefect_api), "JOBNODE_URL": service.url, "JOBNODE_TOKEN": service.token or ""}
    with (workdir / "cron.log").open("wb") as log:
        runner = subprocess.Popen(
            [sys.executable, str(ROOT / "flows" / "example_flow.py"), "--serve", "--cron", "* * * * *"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 240
        completed: list[Any] = []
        while not completed:
            assert runner.poll() is None, (workdir / "cron.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (workdir / "cron.log").read_text()[-3000:]
            time.sleep(2)
            completed = [
                run
                for run in sync_prefect.read_flow_runs(flow_run_filter=COMPLETED, deployment_filter=NIGHTLY)
                if run.auto_scheduled  # made by the scheduler from the cron schedule, not by anyone asking
            ]
    finally:
        stop(runner)
