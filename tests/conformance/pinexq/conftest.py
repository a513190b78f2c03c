"""Fixtures of the PinexQ conformance suite: the emulator and PinexQ's SDK in its own environment."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobnode.service.process import ServiceProcess
from tests.conformance.pinexq.setup_env import SDK_VERSION, env_python, installed_version

WORKER = Path(__file__).with_name("sdk_worker.py")


class SdkError(Exception):
    """An exception the SDK raised; `type` is its class name (`ApiException`, `NameError`, ...)."""

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(f"{type_}: {message}")
        self.type = type_
        self.message = message


class Sdk:
    """PinexQ's SDK in a subprocess of its own environment; `run` executes code there, as a user's script would."""

    def __init__(self, python: Path, url: str, api_key: str, log: Path) -> None:
        self._log = log.open("ab")
        self._proc = subprocess.Popen(
            [str(python), str(WORKER), url, api_key],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )

    def run(self, code: str, **variables: Any) -> Any:
        """Run `code` with `client`, the SDK's tool classes and `variables` in scope; return its `result`.

        Raises:
            SdkError: the code raised.
        """
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps({"code": code, "vars": variables}) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the SDK worker exited ({self._proc.poll()}); see {self._log.name}")
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
            f"pinexq-client=={SDK_VERSION} is not installed in {python.parent.parent} (found: {found}); "
            "create it with: python tests/conformance/pinexq/setup_env.py"
        )
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return python


@pytest.fixture(scope="session")
def sdk(sdk_env: Path, pinexq_service: ServiceProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sdk]:
    assert pinexq_service.token
    worker = Sdk(sdk_env, pinexq_service.url, pinexq_service.token, tmp_path_factory.mktemp("sdk") / "sdk.log")
    yield worker
    worker.close()


@pytest.fixture
def pinexq_url(pinexq_service: ServiceProcess) -> str:
    return pinexq_service.url
