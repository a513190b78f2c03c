"""One Prefect test server for the whole session (`prefect_test_harness`) and credentials for the local service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect.testing.utilities import prefect_test_harness

from jobnode.prefect import JobnodeCredentials
from jobnode.service.process import ServiceProcess


@pytest.fixture(scope="session", autouse=True)
def prefect_harness() -> Iterator[None]:
    """Flows run against a temporary Prefect server with a SQLite database, started once."""
    with pytest.MonkeyPatch.context() as patch:
        # the temporary server would try to reach Prefect's telemetry endpoint on start
        patch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        # its SQLite writers wait this long for each other's locks (10 s by default: too short on a loaded machine)
        patch.setenv("PREFECT_API_DATABASE_TIMEOUT", "60")
        with prefect_test_harness(server_startup_timeout=120):
            yield


@pytest.fixture
def credentials(service: ServiceProcess) -> JobnodeCredentials:
    return JobnodeCredentials(url=service.url, token=service.token)


@pytest.fixture(autouse=True)
def no_jobnode_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests pass their credentials explicitly; the ones about the environment set it themselves."""
    monkeypatch.delenv("JOBNODE_URL", raising=False)
    monkeypatch.delenv("JOBNODE_TOKEN", raising=False)
