"""Fixtures of the Nucleus conformance suite: Scale's SDK in its own environment, against the emulator."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobnode.platforms.nucleus import PLATFORM
from jobnode.service.process import ServiceProcess
from tests.conformance.nucleus.setup_env import NUCLEUS
from tests.conformance.sdk_runner import SdkWorker, open_sdk

WORKER = Path(__file__).with_name("sdk_worker.py")


class Sdk(SdkWorker):
    """Scale's Nucleus SDK in a subprocess of its own environment, its endpoint the emulator's."""

    def __init__(self, python: Path, url: str, key: str, log: Path) -> None:
        env = {**os.environ, "NUCLEUS_ENDPOINT": url + PLATFORM.emulator_prefix}
        env.pop("NUCLEUS_API_KEY", None)
        super().__init__(python, WORKER, log, env=env)
        self.key = key

    def run(self, code: str, **names: Any) -> dict[str, Any]:
        """Run `code` (a seed example, with its placeholders given as `names`); the answer's `result`, `stdout`
        and `warnings`."""
        return self.ask({"code": code, "names": names})


@pytest.fixture(scope="session")
def sdk(nucleus_service: ServiceProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sdk]:
    """Scale's SDK against the session's emulator."""
    yield from open_sdk(Sdk, NUCLEUS, nucleus_service, tmp_path_factory)
