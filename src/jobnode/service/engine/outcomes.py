"""Recording how a batch ran: its results, log entries, errors and counters in the scheduler's transaction; a
failed batch goes back to the queue or, with no attempt left, to the dead letters."""

from __future__ import annotations

import json
import sqlite3
import time

from jobnode.core.models import LogLevel
from jobnode.service.engine.active import ActiveJobs
from jobnode.service.engine.deliveries import Deliveries
from jobnode.service.runner import BatchOutcome, item_label
from jobnode.service.store import Store, micros

INFO, ERROR = LogLevel.INFO.rank, LogLevel.ERROR.rank


class Outcomes:
    """Records batch outcomes; each call adds the ids it changed to `changed`."""

    def __init__(self, store: Store, active: ActiveJobs, deliveries: Deliveries) -> None:
        self._store = store
        self._active = active
        self._deliveries = deliveries

    def record(self, conn: sqlite3.Connection, o: BatchOutcome, changed: set[str]) -> None:
        job = self._active.get(o.job_id)
        if job is None:
            return  # cancelled, timed out or deleted meanwhile: its results are dropped
        with self._active.lock:
            job.inflight.discard(o.batch)
        store = self._store
        now = time.time()
        changed.add(job.id)
        if o.error is not None:
            retry = o.attempt < job.max_attempts
            store.errors.add(conn, [(job.id, now, None, o.batch, o.attempt, o.error)])
            status = "Retrying" if retry else "DeadLettered"
            store.logs.add(
                conn,
                [(job.id, micros(now), ERROR, "BatchFailed", f"batch {o.batch}", status, o.duration * 1000, o.error)],
            )
            if retry:
                store.batches.retry(conn, job.id, o.batch, o.error)
                store.jobs.count_retry(conn, job.id, now)
                job.pending.append(o.batch)
                return
            self.dead_letter(conn, job.id, o.batch, o.error, o.attempt, now, labels=o.labels, running=True)
            return
        per_item = o.duration * 1000 / max(1, len(o.labels))
        at = micros(now)
        failed = dict(o.item_errors)
        store.batches.succeed(conn, job.id, o.batch, o.results_json)
        store.logs.add(
            conn,
            [
                (job.id, at, ERROR, "ItemFailed", label, "Failed", per_item, failed[i])
                if i in failed
                else (job.id, at, INFO, "ItemProcessed", label, "Succeeded", per_item, None)
                for i, label in enumerate(o.labels)
            ],
        )
        if failed:
            store.errors.add(
                conn, [(job.id, now, o.labels[i], o.batch, o.attempt, message) for i, message in failed.items()]
            )
        store.jobs.count_success(conn, job.id, len(o.labels) - len(failed), len(failed), now)
        if job.webhook is not None:
            self._deliveries.deliver(job, o.batch, o.first_item, o.labels, o.results_json)

    def dead_letter(
        self,
        conn: sqlite3.Connection,
        job_id: str,
        batch: int,
        error: str,
        attempts: int,
        now: float,
        *,
        labels: list[str] | None = None,
        running: bool,
    ) -> None:
        """Give up on a batch: its items fail (each with an `ItemFailed` entry) and it goes to the dead letters.
        `labels` name its items (default: their labels from the stored items)."""
        store = self._store
        first_item, size, items_json = store.batches.dead_letter(conn, job_id, batch, error, attempts, now)
        if not labels:
            labels = [item_label(item, first_item + i) for i, item in enumerate(json.loads(items_json))]
        store.logs.add(
            conn, [(job_id, micros(now), ERROR, "ItemFailed", label, "DeadLettered", None, error) for label in labels]
        )
        store.jobs.count_dead_letter(conn, job_id, size, now, running=running)
