"""Starting the local service (`jobnode serve`): one engine, its native API and, on request, one platform's
emulator, composed into one ASGI app on one port.

The service knows no platform by name: the command line passes the emulator's factory and mount path, taken from
the platform's descriptor.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from jobnode.core.errors import ConfigurationError
from jobnode.service.api import create_app
from jobnode.service.api.common import native_error
from jobnode.service.console import create_console
from jobnode.service.emulation.guards import BodyLimit, Guarded, LoopbackHostOnly
from jobnode.service.engine import Engine
from jobnode.service.jobs import JobService
from jobnode.service.limits import Limits
from jobnode.service.views import CONSOLE_PATH

log = logging.getLogger("jobnode.service")

ENDPOINT_FILE = "endpoint.json"
#: paths the service answers itself on a port that serves an emulator (every other path is the emulator's); each
#: covers the paths under it
SHARED_PATHS = ("/healthz", CONSOLE_PATH)


@dataclass(frozen=True)
class EmulatorMount:
    """A platform emulator to serve beside the native API: its app factory and where it is mounted.

    Attributes:
        name: the platform's name (for logs).
        factory: `factory(service, token=...)` builds the emulator's ASGI app.
        prefix: its path ("" for the root of the port, where an SDK that drops the base URL's path needs it).
    """

    name: str
    factory: Callable[..., ASGIApp]
    prefix: str = ""


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root + "/")


class Dispatch:
    """Sends the console's paths (`/ui`) to the console; with an emulator, sends every other request to it, but for
    `SHARED_PATHS`, which the service answers itself; the native API is served on ports without an emulator. A
    prefixed emulator sees its prefix as the `root_path`, so the URLs it builds include it."""

    def __init__(
        self, native: ASGIApp, emulator: ASGIApp | None = None, prefix: str = "", console: ASGIApp | None = None
    ) -> None:
        self.native = native
        self.emulator = emulator
        self.prefix = prefix.rstrip("/")
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if self.console is not None and scope["type"] == "http" and _under(path, CONSOLE_PATH):
            await self.console(scope, receive, send)
            return
        if (
            self.emulator is None
            or scope["type"] not in ("http", "websocket")
            or any(_under(path, shared) for shared in SHARED_PATHS)
        ):
            await self.native(scope, receive, send)
            return
        if self.prefix and _under(path, self.prefix):
            scope = {**scope, "root_path": scope.get("root_path", "") + self.prefix}
        await self.emulator(scope, receive, send)


def build_app(
    engine: Engine,
    *,
    token: str | None = None,
    emulator: EmulatorMount | None = None,
    limits: Limits | None = None,
) -> ASGIApp:
    """The whole service's ASGI app: the native API, the console, the emulator if any, the size limit and, without a
    token, the loopback `Host` check."""
    limits = limits or Limits()
    service = JobService(engine, limits=limits)

    def limited(app: ASGIApp) -> ASGIApp:
        # the size limit answers in the shape of the API it stands in front of
        shape = app.shape if isinstance(app, Guarded) else native_error
        return BodyLimit(app, max_bytes=limits.max_request_bytes, shape=shape)

    native = limited(create_app(service, token=token))
    console = limited(create_console(service, token=token, platforms=[emulator.name] if emulator else []))
    app: ASGIApp = Dispatch(
        native,
        limited(emulator.factory(service, token=token)) if emulator is not None else None,
        emulator.prefix if emulator is not None else "",
        console,
    )
    if not token:
        app = LoopbackHostOnly(app, shape=native_error)
    return app


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
    allow_protocols: Sequence[str] = (),
    allow_hosts: Sequence[str] = (),
    emulator: EmulatorMount | None = None,
    limits: Limits | None = None,
) -> None:
    """Run the service until it is stopped (SIGINT or SIGTERM, which both stop it cleanly: batches under way are
    released, `endpoint.json` is removed, then KeyboardInterrupt is raised).

    Port 0 picks a free port; the URL is written to `<data_dir>/endpoint.json` once the service listens.
    `allow_roots` are the directories local file inputs may come from (default: `data_dir` and the current one);
    `allow_protocols` and `allow_hosts` what else they may read (see `jobnode.service.inputs`).

    Raises:
        ConfigurationError: it cannot listen there, or another service uses `data_dir`.
    """
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
    try:
        engine = Engine(
            data_dir,
            step_modules=steps,
            threads=threads,
            processes=processes,
            allowed_roots=allow_roots,
            allowed_protocols=allow_protocols,
            allowed_hosts=allow_hosts,
        )
    except BaseException:
        sock.close()
        raise
    engine.start()
    app = build_app(engine, token=token, emulator=emulator, limits=limits)
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    endpoint = data_dir / ENDPOINT_FILE

    def announce() -> None:
        tmp = endpoint.with_suffix(".tmp")
        tmp.write_text(json.dumps({"url": url, "pid": os.getpid()}))
        os.replace(tmp, endpoint)
        where = f" with the {emulator.name} emulator at {emulator.prefix or '/'}" if emulator else ""
        log.info("jobnode serving on %s%s (data in %s)", url, where, data_dir)

    config = uvicorn.Config(
        _Announcing(app, announce), log_level=log_level, access_log=False, timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    if threading.current_thread() is threading.main_thread():
        # uvicorn ends on SIGTERM as on SIGINT, then raises the signal again with the handler it found: SIGTERM's
        # default would kill the process before the clean-up below, so SIGTERM raises KeyboardInterrupt as SIGINT does
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        server.run(sockets=[sock])
    finally:
        endpoint.unlink(missing_ok=True)
        engine.stop()


class _Announcing:
    """Calls `announce` once the server has started (the lifespan's startup), then passes everything on."""

    def __init__(self, app: ASGIApp, announce: Callable[[], Any]) -> None:
        self.app = app
        self.announce = announce

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.announce()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
