"""A fault-injecting HTTP proxy for tests: between a client and the service, on 127.0.0.1, it fails a share of the
requests in each of the ways a network and a busy server do, from a seeded random generator.

Faults, each as likely as the others:

- `503` and `429` (with `Retry-After: 0`) answered before the request reaches the service;
- `reset_before`: the connection is reset before the request reaches the service;
- `reset_after`: the service acts, then the client's connection is reset before the answer (a streamed answer is
  cut after its first bytes);
- `502_after`: the service acts, then the client gets a 502 instead of the answer.

The proxy speaks enough HTTP/1.1 for jobnode's clients (requests with a `Content-Length` or no body, keep-alive
connections, answers of any framing, streamed as they come). It sends each request upstream on a fresh connection
with `Connection: close`, so an answer ends where the upstream connection does.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import threading
from collections import Counter
from typing import Any

FAULTS = ("503", "429", "reset_before", "reset_after", "502_after")


class FaultProxy:
    """Started with `with FaultProxy(upstream_port, rate=0.2, seed=11) as proxy:`; `proxy.url` is its address,
    `proxy.counts` what it did (`requests` and one count per fault)."""

    def __init__(self, upstream_port: int, *, rate: float, seed: int) -> None:
        self.upstream_port = upstream_port
        self.rate = rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop
        ).result()
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _fault(self) -> str | None:
        with self._lock:
            self.counts["requests"] += 1
            if self._random.random() >= self.rate:
                return None
            fault = self._random.choice(FAULTS)
            self.counts[fault] += 1
            return fault

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = _content_length(head)
                body = await reader.readexactly(length) if length else b""
                if not await self._handle(head, body, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _handle(self, head: bytes, body: bytes, client: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the client's connection was reset."""
        fault = self._fault()
        if fault in ("503", "429"):
            extra = b"Retry-After: 0\r\n" if fault == "429" else b""
            client.write(b"HTTP/1.1 " + fault.encode() + b" Injected\r\nContent-Length: 0\r\n" + extra + b"\r\n")
            await client.drain()
            return True
        if fault == "reset_before":
            _reset(client)
            return False
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            up_writer.write(_close_after(head) + body)
            await up_writer.drain()
            answer_head = await up_reader.readuntil(b"\r\n\r\n")
            streamed = b"text/event-stream" in answer_head.lower() or b"x-ndjson" in answer_head.lower()
            if fault == "reset_after" and streamed:
                client.write(_keep_alive(answer_head) + await up_reader.read(64))
                await client.drain()
                _reset(client)
                return False
            if fault is not None:  # reset_after, 502_after: the service acted; the client never sees its answer
                while await up_reader.read(65536):
                    pass
                if fault == "reset_after":
                    _reset(client)
                    return False
                client.write(b"HTTP/1.1 502 Injected\r\nContent-Length: 0\r\n\r\n")
                await client.drain()
                return True
            client.write(_keep_alive(answer_head))
            while chunk := await up_reader.read(65536):
                client.write(chunk)
                await client.drain()
            return True
        finally:
            up_writer.close()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def _close_after(head: bytes) -> bytes:
    lines = [line for line in head.split(b"\r\n") if line and not line.lower().startswith(b"connection:")]
    return b"\r\n".join([*lines, b"Connection: close", b"", b""])


def _keep_alive(head: bytes) -> bytes:
    """The answer's head without the `Connection: close` meant for the proxy: the client keeps its connection."""
    lines = [line for line in head.split(b"\r\n") if line and not line.lower().startswith(b"connection:")]
    return b"\r\n".join([*lines, b"", b""])


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (RST), as a crashed peer or a middlebox does."""
    sock: Any = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
