"""Fixtures of the Nexus tests: a real `jobnode serve --platform nexus` and a webhook receiver, both on 127.0.0.1."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from jobnode.platforms.nexus.backend import NexusBackend
from jobnode.service.process import ServiceProcess
from tests.platforms.nexus.receiver import Receiver, running_receiver
from tests.platforms.nexus.steps import NEXUS_STEPS


@pytest.fixture(scope="session")
def nexus_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """One emulator for the session; each test works in a project of its own."""
    with ServiceProcess(
        tmp_path_factory.mktemp("nexus"),
        steps=[NEXUS_STEPS],
        token=secrets.token_hex(16),
        extra_args=["--platform", "nexus"],
    ) as service:
        yield service


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


@pytest.fixture
def project_id() -> str:
    return f"proj_{uuid.uuid4().hex}"


@pytest.fixture
async def nexus(nexus_service: ServiceProcess, project_id: str) -> AsyncIterator[NexusBackend]:
    backend = NexusBackend(nexus_service.url, token=nexus_service.token, project_id=project_id)
    yield backend
    await backend.aclose()
