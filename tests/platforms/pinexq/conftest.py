"""Fixtures of the PinexQ tests: the backend against a real `jobnode serve --platform pinexq` on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from jobnode.platforms.pinexq.backend import PinexqBackend
from jobnode.service.process import ServiceProcess


@pytest.fixture
async def pinexq(pinexq_service: ServiceProcess) -> AsyncIterator[PinexqBackend]:
    backend = PinexqBackend(pinexq_service.url, token=pinexq_service.token, reconnect_delay=0.2)
    yield backend
    await backend.aclose()
