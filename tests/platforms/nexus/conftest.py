"""Fixtures of the Nexus tests: a real `jobnode serve --platform nexus` and a webhook receiver, both on 127.0.0.1."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from jobnode.platforms.nexus.backend import NexusBackend
from jobnode.service.process import ServiceProcess


@pytest.fixture
def project_id() -> str:
    return f"proj_{uuid.uuid4().hex}"


@pytest.fixture
async def nexus(nexus_service: ServiceProcess, project_id: str) -> AsyncIterator[NexusBackend]:
    backend = NexusBackend(nexus_service.url, token=nexus_service.token, project_id=project_id)
    yield backend
    await backend.aclose()
