"""Fixtures of the Dataiku conformance suite: Dataiku's API client in its own environment, against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobnode.service.process import ServiceProcess
from tests.conformance.dataiku.setup_env import DATAIKU
from tests.conformance.sdk_runner import SdkWorker, open_sdk
from tests.platforms.dataiku.conftest import project_key

WORKER = Path(__file__).with_name("sdk_worker.py")


class Sdk(SdkWorker):
    """Dataiku's API client in a subprocess of its own environment; `run` executes a seed example there."""

    def __init__(self, python: Path, url: str, api_key: str, log: Path) -> None:
        super().__init__(python, WORKER, log)
        self.url = url
        self.api_key = api_key

    def run(self, code: str, **names: Any) -> Any:
        """Run `code` with `client` made, after replacing each `{name}` of it; return its `result`."""
        for name, value in names.items():
            code = code.replace("{" + name + "}", str(value))
        return self.ask({"url": self.url, "api_key": self.api_key, "code": code})["result"]


@pytest.fixture(scope="session")
def sdk(dataiku_service: ServiceProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sdk]:
    """Dataiku's API client against the session's emulator."""
    yield from open_sdk(Sdk, DATAIKU, dataiku_service, tmp_path_factory)


@pytest.fixture
def project() -> str:
    """A project of the test's own, served with the default flow (`compute_D` builds `D`)."""
    return project_key("SDK")
