"""Fixtures of the Dataiku tests: clients of the session's emulator (`jobnode serve --platform dataiku`), each on a
project of the test's own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest

import jobnode
from jobnode.platforms.dataiku.backend import DataikuBackend
from jobnode.service.process import ServiceProcess

ClientFactory = Callable[[str], jobnode.AsyncClient]


def project_key(prefix: str) -> str:
    """A project key of its own, matching a declared flow's pattern (`CHAIN_*`, `PART_*`, `REVIEWS_*`) or none."""
    return f"{prefix}_{uuid.uuid4().hex[:12].upper()}"


@pytest.fixture
async def dss(dataiku_service: ServiceProcess) -> AsyncIterator[ClientFactory]:
    """`dss("CHAIN")`: a jobnode client of the emulator on a new project whose key starts so."""
    clients: list[jobnode.AsyncClient] = []

    def make(prefix: str) -> jobnode.AsyncClient:
        client = jobnode.AsyncClient(
            dataiku_service.url, dataiku_service.token, platform="dataiku", project_key=project_key(prefix)
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def backend(client: jobnode.AsyncClient) -> DataikuBackend:
    assert isinstance(client.backend, DataikuBackend)
    return client.backend
