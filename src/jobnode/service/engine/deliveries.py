"""Webhook delivery, seen from the engine: each processed batch of a job with a webhook is handed to the
`Deliverer`, its outcome recorded (logs, errors, counters), and the job ends only once every delivery has ended."""

from __future__ import annotations

import json
import queue
import sqlite3
import time

from jobnode.core.models import LogLevel
from jobnode.service.delivery import Deliverer, DeliveryOutcome, batch_delivery
from jobnode.service.engine.active import ActiveJob, ActiveJobs
from jobnode.service.runner import item_label
from jobnode.service.store import Store, micros
from jobnode.service.store.batches import DELIVERED, DELIVERY_FAILED

INFO, WARNING, ERROR = LogLevel.INFO.rank, LogLevel.WARNING.rank, LogLevel.ERROR.rank


class Deliveries:
    """Starts deliveries (from the scheduler thread) and records how they ended (in its transactions)."""

    def __init__(self, store: Store, active: ActiveJobs) -> None:
        self._store = store
        self._active = active
        self._outcomes: queue.SimpleQueue[DeliveryOutcome] = queue.SimpleQueue()
        self._deliverer: Deliverer | None = None

    def close(self) -> None:
        if self._deliverer:
            self._deliverer.close()

    def resume(self, job: ActiveJob) -> None:
        """After a restart: deliver what was processed but not delivered yet."""
        for idx, first_item, items_json, results_json in self._store.batches.undelivered(job.id):
            items = json.loads(items_json)
            labels = [item_label(item, first_item + i) for i, item in enumerate(items)]
            self.deliver(job, idx, first_item, labels, results_json)

    def deliver(self, job: ActiveJob, idx: int, first_item: int, labels: list[str], results_json: str | None) -> None:
        """Send a processed batch's results to the job's webhook; the job ends only once this is settled."""
        assert job.webhook is not None
        delivery = batch_delivery(
            job_id=job.id,
            job_name=job.name,
            batch=idx,
            first_item=first_item,
            labels=labels,
            results=json.loads(results_json) if results_json else [],
            url=job.webhook.url,
            secret=job.webhook.secret,
            max_attempts=job.webhook.max_attempts,
        )
        if delivery is None:
            return  # every item of the batch failed: nothing to deliver
        if self._deliverer is None:
            self._deliverer = Deliverer(self._delivered)
        job.delivering.add(idx)
        job_id = job.id
        self._deliverer.submit(delivery, lambda: self._active.is_stopped(job_id))

    def _delivered(self, outcome: DeliveryOutcome) -> None:
        """Called from delivery threads."""
        self._outcomes.put(outcome)
        self._active.wake()

    def drain(self) -> list[DeliveryOutcome]:
        """The outcomes that arrived since the last call."""
        out: list[DeliveryOutcome] = []
        while True:
            try:
                out.append(self._outcomes.get_nowait())
            except queue.Empty:
                return out

    def record(self, conn: sqlite3.Connection, d: DeliveryOutcome, changed: set[str]) -> None:
        job = self._active.get(d.job_id)
        if job is None:
            return  # the job ended meanwhile
        with self._active.lock:
            job.delivering.discard(d.batch)
        store = self._store
        now = time.time()
        at = micros(now)
        changed.add(job.id)
        count = len(d.labels)
        store.logs.add(
            conn,
            [
                (job.id, at, WARNING, "DeliveryRetried", f"batch {d.batch}", "Retrying", None, f"attempt {i}: {error}")
                for i, error in enumerate(d.retried, 1)
            ],
        )
        if d.delivered:
            per_item = d.duration * 1000 / max(1, count)
            store.logs.add(
                conn, [(job.id, at, INFO, "ItemDelivered", label, "Delivered", per_item, None) for label in d.labels]
            )
            store.batches.set_delivered(conn, job.id, d.batch, DELIVERED)
            store.jobs.count_delivered(conn, job.id, count, now)
            return
        message = f"delivery failed after {d.attempts} attempt(s): {d.error}"
        store.logs.add(
            conn,
            [(job.id, at, ERROR, "ItemDeliveryFailed", label, "FailedDeliver", None, message) for label in d.labels],
        )
        store.errors.add(conn, [(job.id, now, label, d.batch, d.attempts, message) for label in d.labels])
        store.batches.set_delivered(conn, job.id, d.batch, DELIVERY_FAILED)
        store.jobs.count_undelivered(conn, job.id, count, now)
