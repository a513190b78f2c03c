"""Fixtures of the Nexus conformance suite: Datature's SDK in its own environment, against the emulator."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobnode.service.process import ServiceProcess
from tests.conformance.nexus.setup_env import NEXUS
from tests.conformance.sdk_runner import SdkWorker, open_sdk

WORKER = Path(__file__).with_name("sdk_worker.py")


class Sdk(SdkWorker):
    """Datature's SDK in a subprocess of its own environment; `run` executes a seed example there."""

    def __init__(self, python: Path, url: str, secret_key: str, log: Path) -> None:
        # read by the SDK when it is imported
        super().__init__(python, WORKER, log, env={**os.environ, "DATATURE_API_BASE_URL": url})
        self.secret_key = secret_key

    def run(self, project: str, code: str) -> Any:
        """Run `code` with `project` (the SDK's project object) in scope; return its `result`."""
        return self.ask({"secret_key": self.secret_key, "project": project, "code": code})["result"]


@pytest.fixture(scope="session")
def sdk(nexus_service: ServiceProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sdk]:
    """Datature's SDK against the session's emulator."""
    yield from open_sdk(Sdk, NEXUS, nexus_service, tmp_path_factory)


@pytest.fixture
def project() -> str:
    """A project of the test's own (as the SDK takes it: without the proj_ prefix, which it adds)."""
    return uuid.uuid4().hex
