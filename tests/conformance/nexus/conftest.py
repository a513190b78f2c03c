"""Fixtures of the Nexus conformance suite: the emulator, a webhook receiver, and Datature's SDK in its own env."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobnode.service.process import ServiceProcess
from tests.conformance.nexus.setup_env import SDK_VERSION, env_python, installed_version

WORKER = Path(__file__).with_name("sdk_worker.py")


class SdkError(Exception):
    """An exception the SDK raised; `type` is its class name (`NotFoundError`, `BadRequestError`, ...)."""

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(f"{type_}: {message}")
        self.type = type_
        self.message = message


class Sdk:
    """Datature's SDK in a subprocess of its own environment; `run` executes a seed example there."""

    def __init__(self, url: str, secret_key: str, log: Path) -> None:
        self.secret_key = secret_key
        self._log = log.open("ab")
        env = {**os.environ, "DATATURE_API_BASE_URL": url}  # read by the SDK when it is imported
        self._proc = subprocess.Popen(
            [str(env_python()), str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            text=True,
            bufsize=1,
        )

    def run(self, project: str, code: str) -> Any:
        """Run `code` with `project` (the SDK's project object) in scope; return its `result`."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps({"secret_key": self.secret_key, "project": project, "code": code}) + "\n")
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
            f"datature=={SDK_VERSION} is not installed in {python.parent.parent} (found: {found}); "
            "create it with: python tests/conformance/nexus/setup_env.py"
        )
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return python


@pytest.fixture(scope="session")
def sdk(sdk_env: Path, nexus_service: ServiceProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sdk]:
    assert nexus_service.token
    worker = Sdk(nexus_service.url, nexus_service.token, tmp_path_factory.mktemp("sdk") / "sdk.log")
    yield worker
    worker.close()


@pytest.fixture
def project() -> str:
    """A project of the test's own (as the SDK takes it: without the proj_ prefix, which it adds)."""
    return uuid.uuid4().hex
