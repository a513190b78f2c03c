"""Starting the local service: `jobnode serve`."""

from __future__ import annotations

import importlib
import ipaddress
import json
import logging
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn

from jobnode.core.errors import ConfigurationError
from jobnode.platforms import EMULATORS
from jobnode.service.app import create_app
from jobnode.service.engine import Engine

log = logging.getLogger("jobnode.service")

ENDPOINT_FILE = "endpoint.json"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    data_dir: Path,
    steps: Sequence[str] = (),
    token: str | None = None,
    threads: int = 32,
    processes: int | None = None,
    log_level: str = "info",
    allow_roots: Sequence[Path] = (),
    platform: str = "local",
) -> None:
    """Run the service until it is stopped (SIGINT or SIGTERM).

    Port 0 picks a free port; the URL is written to `<data_dir>/endpoint.json` once the service listens.
    `allow_roots` are the directories local file inputs may come from (default: `data_dir` and the current one).
    `platform` is the API this port speaks: `local` (the native `/v1` API) or a platform whose emulator is served
    at the root of the port (one platform per port: an SDK such as Datature's drops any path of its base URL).
    """
    if platform != "local" and platform not in EMULATORS:
        known = ", ".join(["local", *sorted(EMULATORS)])
        raise ConfigurationError(f"no emulator for platform {platform!r}; --platform is one of {known}")
    if not is_loopback(host) and not token:
        raise ConfigurationError(
            f"refusing to listen on {host} without a token: anyone who can reach it could run jobs; "
            "pass --token or set JOBNODE_TOKEN, or listen on 127.0.0.1"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port") from exc
    port = sock.getsockname()[1]
    engine = Engine(data_dir, step_modules=steps, threads=threads, processes=processes, allowed_roots=allow_roots)
    engine.start()
    app = create_app(engine, token=token) if platform == "local" else _emulator_app(platform, engine, token)
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    endpoint = data_dir / ENDPOINT_FILE

    async def _announce() -> None:
        tmp = endpoint.with_suffix(".tmp")
        tmp.write_text(json.dumps({"url": url, "pid": os.getpid()}))
        os.replace(tmp, endpoint)
        log.info("jobnode serving on %s (data in %s)", url, data_dir)

    app.router.add_event_handler("startup", _announce)

    config = uvicorn.Config(app, log_level=log_level, access_log=False, timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        endpoint.unlink(missing_ok=True)
        engine.stop()


def _emulator_app(platform: str, engine: Engine, token: str | None) -> Any:
    module, _, name = EMULATORS[platform].partition(":")
    return getattr(importlib.import_module(module), name)(engine, token=token)
