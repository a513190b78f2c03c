"""An official SDK driven by a conformance test: its suite's `sdk_worker.py` in a subprocess of the SDK's own
environment (`tests/conformance/sdk_env.py`), spoken to in JSON lines.

Each platform's `conftest.py` subclasses `SdkWorker` as its `Sdk`, made with `(python, url, token, log)`, whose `run`
says a request the way its worker reads it, and its `sdk` fixture yields from `open_sdk`.

Example:

    @pytest.fixture(scope="session")
    def sdk(nexus_service: ServiceProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sdk]:
        yield from open_sdk(Sdk, NEXUS, nexus_service, tmp_path_factory)

    def test_list(sdk: Sdk) -> None:
        assert sdk.run(project, "result = project.batch.jobs.list()") == []
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import pytest

from jobnode.service.process import ServiceProcess
from tests.conformance.sdk_env import SdkEnv

Worker = TypeVar("Worker", bound="SdkWorker")


class SdkError(Exception):
    """An exception the SDK raised; `type` is its class name (`NotFoundError`, `JobError`, `ApiException`, ...),
    `stdout` what the code printed before it, when the worker captures that."""

    def __init__(self, type_: str, message: str, stdout: str = "") -> None:
        super().__init__(f"{type_}: {message}")
        self.type = type_
        self.message = message
        self.stdout = stdout


def sdk_python(env: SdkEnv) -> Path:
    """The Python of `env` with its pinned SDK; missing, the calling test is skipped, except in CI, where it fails."""
    python = env.python()
    found = env.installed_version(python)
    if found != env.version:
        why = (
            f"{env.requirement} is not installed in {env.env_dir} (found: {found}); "
            f"create it with: python tests/conformance/{env.name}/setup_env.py"
        )
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return python


class SdkWorker:
    """A worker script run by `python` (with `args`, in `env`, or this process's environment): one JSON request a
    line on its stdin, one JSON answer a line on its stdout, `{"error": {"type": ..., "message": ...}}` when the SDK
    raised. What it writes on stderr (the SDK's own output) goes to `log`."""

    def __init__(self, python: Path, worker: Path, log: Path, *args: str, env: Mapping[str, str] | None = None) -> None:
        self._log = log.open("ab")
        self._proc = subprocess.Popen(
            [str(python), str(worker), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            text=True,
            bufsize=1,
        )

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """The worker's answer to `request`.

        Raises:
            SdkError: the SDK raised.
            RuntimeError: the worker exited (what it said is in the log).
        """
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the SDK worker exited ({self._proc.poll()}); see {self._log.name}")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise SdkError(answer["error"]["type"], answer["error"]["message"], answer.get("stdout", ""))
        return answer

    def close(self) -> None:
        """End the worker: its stdin closed, it stops reading; one that does not stop in 10 s is killed."""
        if self._proc.stdin:
            self._proc.stdin.close()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, type_: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def open_sdk(
    sdk: Callable[[Path, str, str, Path], Worker],
    env: SdkEnv,
    service: ServiceProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Worker]:
    """What a suite's `sdk` fixture yields: `sdk(python, url, token, log)` with `env`'s Python, against `service`
    (skipped without the environment, failed so in CI), ended after."""
    assert service.token
    with sdk(sdk_python(env), service.url, service.token, tmp_path_factory.mktemp("sdk") / "sdk.log") as worker:
        yield worker
