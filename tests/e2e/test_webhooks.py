"""Signed webhook delivery through the real service, to a real receiver on 127.0.0.1 that fails on purpose."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import jobnode
from jobnode import JobState
from jobnode.service.delivery import verify_signature
from jobnode.service.process import ServiceProcess

SECRET = "webhook-secret-value"


@dataclass
class Received:
    delivery: str
    attempt: int
    signature_ok: bool | None
    body: dict[str, Any]
    answered: int
    raw: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Receiver:
    """Answers each POST with `decide(delivery_id, attempt)` and records what it received."""

    url: str
    decide: Callable[[str, int], int] = lambda delivery, attempt: 200
    secret: str | None = SECRET
    seen: list[Received] = field(default_factory=list)

    def attempts(self, delivery: str) -> list[int]:
        return [r.attempt for r in self.seen if r.delivery == delivery]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: list[Receiver] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            rec = box[0]
            body = self.rfile.read(int(self.headers["Content-Length"]))
            timestamp, signature = self.headers.get("X-Jobnode-Timestamp"), self.headers.get("X-Jobnode-Signature")
            ok = None
            if rec.secret is not None:  # the documented scheme, computed here independently of jobnode
                expected = hmac.new(rec.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
                ok = signature == f"sha256={expected.hexdigest()}"
                ok = ok and abs(time.time() - int(timestamp or 0)) < 300
            delivery, attempt = self.headers["X-Jobnode-Delivery"], int(self.headers["X-Jobnode-Attempt"])
            status = rec.decide(delivery, attempt) if ok is not False else 401
            with lock:
                rec.seen.append(Received(delivery, attempt, ok, json.loads(body), status, body, dict(self.headers)))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.append(Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/results?token=query-secret"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box[0]
    server.shutdown()
    thread.join()


def test_signed_batches_are_delivered_after_retries_and_counted(client: jobnode.Client, receiver: Receiver) -> None:
    receiver.decide = lambda delivery, attempt: 503 if attempt == 1 else 200  # every batch fails once first
    items = [{"id": f"i{n}", "n": n} for n in range(6)]
    job = client.jobs.create(
        name="hooked",
        step="fail",
        params={"fail_items": ["i4"]},
        items=items,
        batch_size=2,
        max_item_failures=1,
        webhook={"url": receiver.url, "secret": SECRET, "max_attempts": 3},
    )
    done = client.jobs.wait(job.id, timeout=60)
    assert done.state is JobState.SUCCEEDED
    assert (done.progress.items_processed, done.progress.items_failed) == (5, 1)
    assert (done.progress.items_delivered, done.progress.items_failed_delivery) == (5, 0)

    ids = [f"dlv_{job.id}_{b}" for b in range(3)]
    assert sorted({r.delivery for r in receiver.seen}) == ids
    for delivery in ids:
        assert receiver.attempts(delivery) == [1, 2]  # each retried once, with the same delivery id
    assert all(r.signature_ok for r in receiver.seen)
    first = receiver.seen[0]
    stamp, signature = first.headers["X-Jobnode-Timestamp"], first.headers["X-Jobnode-Signature"]
    assert verify_signature(SECRET, first.raw, timestamp=stamp, signature=signature)
    assert not verify_signature(SECRET, first.raw + b" ", timestamp=stamp, signature=signature)
    assert not verify_signature(SECRET, first.raw, timestamp=stamp, signature=signature, now=int(stamp) + 301)
    delivered = [r.body for r in receiver.seen if r.answered == 200]
    results = sorted((x for body in delivered for x in body["results"]), key=lambda x: x["index"])
    assert [x["item"] for x in results] == ["i0", "i1", "i2", "i3", "i5"]  # the failed item is not delivered
    assert results[4] == {"item": "i5", "index": 5, "result": {"id": "i5", "n": 5}}
    assert {body["job_id"] for body in delivered} == {job.id} and delivered[0]["job_name"] == "hooked"

    logs = list(client.jobs.iter_logs(job.id))
    assert sorted(e.item for e in logs if e.kind == "ItemDelivered") == ["i0", "i1", "i2", "i3", "i5"]
    assert all(e.status == "Delivered" for e in logs if e.kind == "ItemDelivered")
    retried = [e for e in logs if e.kind == "DeliveryRetried"]
    assert len(retried) == 3 and all("HTTP 503" in (e.message or "") for e in retried)


def test_a_job_ends_only_when_delivery_has_ended_and_fails_with_the_counts(
    client: jobnode.Client, receiver: Receiver
) -> None:
    def decide(delivery: str, attempt: int) -> int:
        batch = int(delivery.rsplit("_", 1)[1])
        return {0: 200, 1: 500, 2: 400}[batch]  # batch 1: always a server error; batch 2: refused at once

    receiver.decide = decide
    job = client.jobs.create(
        step="identity",
        items=[{"id": f"i{n}"} for n in range(6)],
        batch_size=2,
        webhook={"url": receiver.url, "secret": SECRET, "max_attempts": 3},
    )
    done = client.jobs.wait(job.id, timeout=60)
    # the job ended only after every delivery ended: all retries already happened
    assert receiver.attempts(f"dlv_{job.id}_1") == [1, 2, 3]
    assert receiver.attempts(f"dlv_{job.id}_2") == [1]  # a 4xx is not retried
    assert done.state is JobState.FAILED
    assert (done.progress.items_processed, done.progress.items_delivered, done.progress.items_failed_delivery) == (
        6,
        2,
        4,
    )
    assert done.reason == "4 of 6 items could not be delivered to the webhook"
    errors = client.jobs.errors(job.id)
    assert sorted(e.item for e in errors) == ["i2", "i3", "i4", "i5"]
    assert any("after 3 attempt(s): HTTP 500" in e.message for e in errors)
    assert any("after 1 attempt(s): HTTP 400" in e.message for e in errors)
    failed = list(client.jobs.iter_logs(job.id, kind="ItemDeliveryFailed"))
    assert sorted(e.item for e in failed) == ["i2", "i3", "i4", "i5"]
    assert {e.status for e in failed} == {"FailedDeliver"}
    assert list(client.artifacts.read(done.outputs[0].id)) == [{"id": f"i{n}"} for n in range(6)]

    # neither the secret nor the URL's query string shows anywhere
    shown = json.dumps(
        [
            done.model_dump(mode="json"),
            [e.model_dump(mode="json") for e in errors],
            [e.model_dump(mode="json") for e in client.jobs.iter_logs(job.id)],
        ]
    )
    assert SECRET not in shown and "query-secret" not in shown


def test_without_a_secret_nothing_is_signed(client: jobnode.Client, receiver: Receiver) -> None:
    receiver.secret = None
    job = client.jobs.create(step="identity", items=["a", "b"], webhook={"url": receiver.url})
    done = client.jobs.wait(job.id, timeout=60)
    assert done.state is JobState.SUCCEEDED and done.progress.items_delivered == 2
    assert [r.signature_ok for r in receiver.seen] == [None]
    assert receiver.seen[0].body["results"] == [
        {"item": "a", "index": 0, "result": "a"},
        {"item": "b", "index": 1, "result": "b"},
    ]


def test_a_wrong_secret_is_caught_by_the_receiver(client: jobnode.Client, receiver: Receiver) -> None:
    receiver.secret = "another-secret"
    job = client.jobs.create(step="identity", items=["a"], webhook={"url": receiver.url, "secret": SECRET})
    done = client.jobs.wait(job.id, timeout=60)
    assert [r.signature_ok for r in receiver.seen] == [False]
    assert done.state is JobState.FAILED and done.progress.items_failed_delivery == 1


def test_deliveries_under_way_resume_after_a_crash(fresh_service: ServiceProcess, receiver: Receiver) -> None:
    receiver.decide = lambda delivery, attempt: 503  # nothing gets through before the crash
    with jobnode.Client(fresh_service.url, token=fresh_service.token) as client:
        job = client.jobs.create(
            step="identity",
            items=["a", "b", "c"],
            batch_size=1,
            webhook={"url": receiver.url, "secret": SECRET, "max_attempts": 20},
        )
        for seen in client.jobs.watch([job.id]):
            if seen.progress.items_processed == 3:
                break
        assert client.jobs.get(job.id).state is JobState.RUNNING  # processed, but not delivered
    fresh_service.restart(kill=True)
    receiver.decide = lambda delivery, attempt: 200
    with jobnode.Client(fresh_service.url, token=fresh_service.token) as client:
        done = client.jobs.wait(job.id, timeout=60)
    assert done.state is JobState.SUCCEEDED and done.progress.items_delivered == 3
    delivered = sorted(r.delivery for r in receiver.seen if r.answered == 200)
    assert delivered == [f"dlv_{job.id}_{b}" for b in range(3)]
