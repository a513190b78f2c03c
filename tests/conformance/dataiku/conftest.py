"""Fixtures of the Dataiku conformance suite: the emulator, and Dataiku's API client in its own environment."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobnode.service.process import ServiceProcess
from tests.conformance.dataiku.setup_env import SDK, SDK_VERSION, env_python, installed_version
from tests.platforms.dataiku.conftest import project_key

WORKER = Path(__file__).with_name("sdk_worker.py")


class SdkError(Exception):
    """An exception the API client raised; `type` is its class name (`DataikuException`, ...)."""

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(f"{type_}: {message}")
        self.type = type_
        self.message = message


class Sdk:
    """Dataiku's API client in a subprocess of its own environment; `run` executes a seed example there."""

    def __init__(self, url: str, api_key: str, log: Path) -> None:
        self.url = url
        self.api_key = api_key
        self._log = log.open("ab")
        self._proc = subprocess.Popen(
            [str(env_python()), str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )

    def run(self, code: str, **names: Any) -> Any:
        """Run `code` with `client` made, after replacing each `{name}` of it; return its `result`."""
        for name, value in names.items():
            code = code.replace("{" + name + "}", str(value))
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps({"url": self.url, "api_key": self.api_key, "code": code}) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the API client's worker exited ({self._proc.poll()}); see {self._log.name}")
        answer = json.loads(line)
        if "error" in answer:
            raise SdkError(answer["error"]["type"], answer["error"]["message"])
        return answer["result"]

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._log.close()


@pytest.fixture(scope="session")
def sdk_env() -> Path:
    """The conformance environment's Python; missing, the suite is skipped, except in CI, where it fails."""
    python = env_python()
    found = installed_version(python)
    if found != SDK_VERSION:
        why = (
            f"{SDK}=={SDK_VERSION} is not installed in {python.parent.parent} (found: {found}); "
            "create it with: python tests/conformance/dataiku/setup_env.py"
        )
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return python


@pytest.fixture(scope="session")
def sdk(sdk_env: Path, dataiku_service: ServiceProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sdk]:
    assert dataiku_service.token
    worker = Sdk(dataiku_service.url, dataiku_service.token, tmp_path_factory.mktemp("sdk") / "sdk.log")
    yield worker
    worker.close()


@pytest.fixture
def project() -> str:
    """A project of the test's own, served with the default flow (`compute_D` builds `D`)."""
    return project_key("SDK")
