"""Fixtures shared by the whole suite: a real local service on 127.0.0.1 and clients for it."""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import jobnode
from jobnode.service.process import ServiceProcess
from tests.platforms.dataiku.steps import DATAIKU_FLOW, DATAIKU_STEPS
from tests.platforms.nexus.receiver import Receiver, running_receiver
from tests.platforms.nexus.steps import NEXUS_STEPS
from tests.platforms.pinexq.steps import PINEXQ_STEPS

if TYPE_CHECKING:
    from tests.platforms.cortex.servers import S3

TEST_STEPS = "tests.steps"

# Airflow and Prefect keep their state in a folder of each test process, set here because this file is imported
# before any other conftest or test module imports either: a test run never touches ~/airflow or ~/.prefect
_HOMES = Path(tempfile.mkdtemp(prefix="jobnode-tests-"))
atexit.register(shutil.rmtree, _HOMES, ignore_errors=True)
os.environ["AIRFLOW_HOME"] = str(_HOMES / "airflow")
os.environ["PREFECT_HOME"] = str(_HOMES / "prefect")
# Prefect 3.7 reads these from ~/.prefect whatever PREFECT_HOME says (as the demo sets them too)
os.environ["PREFECT_SERVER_MEMO_STORE_PATH"] = str(_HOMES / "prefect" / "memo_store.toml")
os.environ["PREFECT_RESULTS_LOCAL_STORAGE_PATH"] = str(_HOMES / "prefect" / "storage")


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """One real service for the session (jobs of different tests do not interfere: each test makes its own)."""
    with ServiceProcess(tmp_path_factory.mktemp("service"), steps=[TEST_STEPS], token=secrets.token_hex(16)) as svc:
        yield svc


@pytest.fixture(scope="session")
def nexus_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """One Nexus emulator (`jobnode serve --platform nexus`) for the session; each test uses a project of its own."""
    with ServiceProcess(
        tmp_path_factory.mktemp("nexus"),
        steps=[NEXUS_STEPS],
        token=secrets.token_hex(16),
        extra_args=["--platform", "nexus"],
    ) as svc:
        yield svc


@pytest.fixture(scope="session")
def dataiku_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """One Dataiku DSS emulator (`jobnode serve --platform dataiku`) for the session, with the test projects' flows
    declared; each test uses a project of its own."""
    with ServiceProcess(
        tmp_path_factory.mktemp("dataiku"),
        steps=[DATAIKU_STEPS],
        token=secrets.token_hex(16),
        extra_args=["--platform", "dataiku"],
        env={"JOBNODE_DATAIKU_FLOW": str(DATAIKU_FLOW)},
    ) as svc:
        yield svc


@pytest.fixture(scope="session")
def nucleus_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """One Nucleus emulator (`jobnode serve --platform nucleus`, API under /v1/nucleus) for the session; each test
    uses datasets of its own."""
    with ServiceProcess(
        tmp_path_factory.mktemp("nucleus"), token=secrets.token_hex(16), extra_args=["--platform", "nucleus"]
    ) as svc:
        yield svc


@pytest.fixture(scope="session")
def pinexq_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """One PinexQ emulator (`jobnode serve --platform pinexq`) for the session; tests tell their jobs apart by id."""
    with ServiceProcess(
        tmp_path_factory.mktemp("pinexq"),
        steps=[PINEXQ_STEPS],
        token=secrets.token_hex(16),
        extra_args=["--platform", "pinexq"],
    ) as svc:
        yield svc


@pytest.fixture(scope="session")
def nexus_receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 that Nexus jobs deliver their results to."""
    with running_receiver() as r:
        yield r


@pytest.fixture(scope="session")
def cortex_s3() -> Iterator[S3]:
    """One S3-compatible server (moto) for the session, with the Cortex seed's bucket."""
    from tests.platforms.cortex.servers import running_s3  # moto loads slowly: only where it is used

    with running_s3() as s3:
        yield s3


@pytest.fixture(scope="session")
def cortex_service(tmp_path_factory: pytest.TempPathFactory, cortex_s3: S3) -> Iterator[ServiceProcess]:
    """One Cortex emulator (`jobnode serve --platform cortex`) for the session, reading and writing `cortex_s3`."""
    from tests.platforms.cortex.servers import running_cortex

    with running_cortex(tmp_path_factory.mktemp("cortex"), cortex_s3) as svc:
        yield svc


@pytest.fixture
def fresh_service(tmp_path: Path) -> Iterator[ServiceProcess]:
    """A service of this test's own, for tests that restart or kill it."""
    svc = ServiceProcess(tmp_path / "service", steps=[TEST_STEPS], token=secrets.token_hex(16)).start()
    yield svc
    svc.stop()


@pytest.fixture
def client(service: ServiceProcess) -> Iterator[jobnode.Client]:
    with jobnode.Client(service.url, token=service.token) as c:
        yield c


@pytest.fixture
async def aclient(service: ServiceProcess):  # type: ignore[no-untyped-def]
    async with jobnode.AsyncClient(service.url, token=service.token) as c:
        yield c
