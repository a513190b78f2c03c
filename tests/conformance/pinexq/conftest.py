"""Fixtures of the PinexQ conformance suite: PinexQ's SDK in its own environment, against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobnode.service.process import ServiceProcess
from tests.conformance.pinexq.setup_env import PINEXQ
from tests.conformance.sdk_runner import SdkWorker, open_sdk

WORKER = Path(__file__).with_name("sdk_worker.py")


class Sdk(SdkWorker):
    """PinexQ's SDK in a subprocess of its own environment; `run` executes code there, as a user's script would."""

    def __init__(self, python: Path, url: str, api_key: str, log: Path) -> None:
        super().__init__(python, WORKER, log, url, api_key)

    def run(self, code: str, **variables: Any) -> Any:
        """Run `code` with `client`, the SDK's tool classes and `variables` in scope; return its `result`.

        Raises:
            SdkError: the code raised.
        """
        return self.ask({"code": code, "vars": variables})["result"]


@pytest.fixture(scope="session")
def sdk(pinexq_service: ServiceProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sdk]:
    """PinexQ's SDK against the session's emulator."""
    yield from open_sdk(Sdk, PINEXQ, pinexq_service, tmp_path_factory)


@pytest.fixture
def pinexq_url(pinexq_service: ServiceProcess) -> str:
    return pinexq_service.url
