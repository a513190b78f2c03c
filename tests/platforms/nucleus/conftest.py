"""Fixtures of the Nucleus tests: the session's `jobnode serve --platform nucleus`, a dataset of the test's own, and
the backend pointed at both."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from jobnode.platforms.nucleus.backend import NucleusBackend
from jobnode.service.process import ServiceProcess
from tests.platforms.nucleus.api import NucleusApi


@pytest.fixture
def api(nucleus_service: ServiceProcess) -> NucleusApi:
    return NucleusApi(nucleus_service)


@pytest.fixture
def dataset_id(api: NucleusApi) -> str:
    return api.create_dataset()


@pytest.fixture
async def nucleus(nucleus_service: ServiceProcess, api: NucleusApi, dataset_id: str) -> AsyncIterator[NucleusBackend]:
    backend = NucleusBackend(api.url, token=nucleus_service.token, dataset_id=dataset_id)
    yield backend
    await backend.aclose()
