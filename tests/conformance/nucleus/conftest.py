"""Fixtures of the Nucleus conformance suite: the emulator, and Scale's SDK in its own environment."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobnode.platforms.nucleus import PLATFORM
from jobnode.service.process import ServiceProcess
from tests.conformance.nucleus.setup_env import SDK, SDK_VERSION, env_python, installed_version

WORKER = Path(__file__).with_name("sdk_worker.py")


class SdkError(Exception):
    """An exception the SDK raised; `type` is its class name (`JobError`, `NucleusAPIError`, ...)."""

    def __init__(self, type_: str, message: str, stdout: str) -> None:
        super().__init__(f"{type_}: {message}")
        self.type = type_
        self.message = message
        self.stdout = stdout


class Sdk:
    """Scale's Nucleus SDK in a subprocess of its own environment, its endpoint the emulator's."""

    def __init__(self, endpoint: str, key: str, log: Path) -> None:
        self.key = key
        self._log = log.open("ab")
        env = {**os.environ, "NUCLEUS_ENDPOINT": endpoint}
        env.pop("NUCLEUS_API_KEY", None)
        self._proc = subprocess.Popen(
            [str(env_python()), str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            text=True,
            bufsize=1,
        )

    def run(self, code: str, **names: Any) -> dict[str, Any]:
        """Run `code` (a seed example, with its placeholders given as `names`); the answer's `result`, `stdout`
        and `warnings`."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps({"code": code, "names": names}) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the SDK worker exited ({self._proc.poll()}); see {self._log.name}")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise SdkError(answer["error"]["type"], answer["error"]["message"], answer["stdout"])
        return answer

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
            "create it with: python tests/conformance/nucleus/setup_env.py"
        )
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return python


@pytest.fixture(scope="session")
def sdk(sdk_env: Path, nucleus_service: ServiceProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sdk]:
    assert nucleus_service.token
    endpoint = nucleus_service.url + PLATFORM.emulator_prefix
    worker = Sdk(endpoint, nucleus_service.token, tmp_path_factory.mktemp("sdk") / "sdk.log")
    yield worker
    worker.close()
