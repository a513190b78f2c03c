"""A webhook receiver on 127.0.0.1 for the Nexus tests: records what the service delivers, or refuses it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Deliveries to `<url>/ok/<name>` are recorded and answered 200; to `<url>/fail/<name>`, answered 500."""

    def __init__(self) -> None:
        self.deliveries: dict[str, list[dict[str, Any]]] = {}
        self.headers: dict[str, list[dict[str, str]]] = {}
        self.url = ""
        self._lock = threading.Lock()

    def endpoint(self, name: str, *, fail: bool = False) -> str:
        return f"{self.url}/{'fail' if fail else 'ok'}/{name}"

    def items(self, name: str) -> list[str]:
        """The items whose results reached `name`."""
        with self._lock:
            return [r["item"] for body in self.deliveries.get(name, []) for r in body.get("results", [])]

    def record(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        _, outcome, name = path.split("/", 2)
        with self._lock:
            self.deliveries.setdefault(name, []).append(json.loads(body))
            self.headers.setdefault(name, []).append(headers)
        return 500 if outcome == "fail" else 200


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = receiver.record(self.path, body, dict(self.headers.items()))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
