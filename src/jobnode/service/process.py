"""Running `jobnode serve` as a child process: for tests, benchmarks, the demo, and users' own test suites.

Example:
    ```python
    with ServiceProcess(data_dir=tmp_path) as service:
        with jobnode.Client(service.url, token=service.token) as client:
            ...
    ```
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from jobnode.core.errors import ConfigurationError
from jobnode.service.server import ENDPOINT_FILE


class ServiceProcess:
    """A local job service in a child process, on a free port of 127.0.0.1."""

    def __init__(
        self,
        data_dir: Path,
        *,
        steps: Sequence[str] = (),
        token: str | None = None,
        port: int = 0,
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        log_file: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.steps = list(steps)
        self.token = token
        self.port = port
        self.extra_args = list(extra_args)
        self.env = env
        self.log_file = log_file or self.data_dir / "service.log"
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> ServiceProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        endpoint = self.data_dir / ENDPOINT_FILE
        endpoint.unlink(missing_ok=True)
        args = [
            sys.executable,
            "-m",
            "jobnode",
            "--log-level",
            "info",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            *self.extra_args,
        ]
        if self.steps:
            args += ["--steps", ",".join(self.steps)]
        env = {**os.environ, **(self.env or {})}
        env.pop("JOBNODE_TOKEN", None)
        if self.token:
            env["JOBNODE_TOKEN"] = self.token
        log = self.log_file.open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ConfigurationError(
                    f"jobnode serve exited with {self.proc.returncode}: {self.log_file.read_text()[-2000:]}"
                )
            if endpoint.exists():
                info = json.loads(endpoint.read_text())
                if info.get("pid") == self.proc.pid:
                    self.url = info["url"]
                    self.port = int(self.url.rsplit(":", 1)[1])
                    if self._healthy():
                        return self
            time.sleep(0.05)
        self.kill()
        raise ConfigurationError(f"jobnode serve did not start in {timeout:g}s: {self.log_file.read_text()[-2000:]}")

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it does not stop in time."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as in a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self, *, kill: bool = False) -> ServiceProcess:
        """Stop (or kill) and start again on the same port and data directory."""
        if kill:
            self.kill()
        else:
            self.stop()
        return self.start()

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
