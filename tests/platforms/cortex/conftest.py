"""Fixtures of the Cortex tests: the backend and plain HTTP against the session's emulator (`cortex_service`, which
reads and writes the session's S3 server `cortex_s3`; both in `tests/conftest.py`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from jobnode.platforms.cortex.backend import CortexBackend
from jobnode.service.process import ServiceProcess
from tests.platforms.cortex.servers import S3, fsspec_configured


@pytest.fixture
def results_dir(cortex_s3: S3) -> str:
    """An S3 directory of this test's own for job results."""
    return f"s3://results/{uuid.uuid4().hex}"


@pytest.fixture
async def cortex(cortex_service: ServiceProcess, results_dir: str) -> AsyncIterator[CortexBackend]:
    backend = CortexBackend(cortex_service.url, token=cortex_service.token, dest_s3_dir=results_dir)
    yield backend
    await backend.aclose()


@pytest.fixture
def http(cortex_service: ServiceProcess) -> Iterator[httpx.Client]:
    """Plain HTTP to the emulator, as a Cortex user sends it (with the service's token)."""
    headers = {"Authorization": f"Bearer {cortex_service.token}"}
    with httpx.Client(base_url=cortex_service.url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def s3_here(cortex_s3: S3) -> Iterator[S3]:
    """The session's S3, reachable through fsspec from this process too (where the backend reads results)."""
    with fsspec_configured(cortex_s3):
        yield cortex_s3


@pytest.fixture
async def ahttp(cortex_service: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    """`http` for async tests."""
    headers = {"Authorization": f"Bearer {cortex_service.token}"}
    async with httpx.AsyncClient(base_url=cortex_service.url, headers=headers, timeout=30) as client:
        yield client
